"""What each `anobench train` scheme minimises, and the schedule its checkpoint records.

t ~ U{0..T−1} for the three diffusion schemes:
- `full` (THOR, DDPM, AnoDDPM, AutoDDPM): the whole image noised, linear schedule, Adam on the MSE
  between the true and predicted noise, as in THOR.
- `patched` (pDDPM, Behrendt et al.): one cell of the plain patch grid per image, drawn uniformly,
  is noised and the rest stays clean (one channel, no mask channel); cosine schedule; the network
  predicts x0 and the loss is the L1 error inside the cell averaged over all pixels (outside the
  cell the prediction is replaced by the truth, so it contributes zero), as in the original.
- `dae` (the denoising autoencoder of Kascenas et al.): no diffusion; coarse noise
  (`anobench.diffusion.coarse_noise`) is added inside the foreground, the network (the same UNet,
  always at timestep 0) outputs the clean image, and the loss is the squared error over the
  foreground averaged over all pixels; Adam with AMSGrad and weight decay 1e-5, as released.
- `conditioned` (cDDPM, Behrendt et al.): the whole image noised, cosine schedule; the network
  predicts x0 given x_t and an encoding of the clean image (`anobench.diffusion.condition`), and
  the loss is the L1 error over the image; encoder and UNet are trained together, as released.
- `latent` (LDM): two stages (`anobench.diffusion.latent`). First the VQ-VAE: the L1 error of its
  reconstruction plus its quantisation loss. Then, the VQ-VAE frozen, the UNet on its quantised
  latents as in `full`, under the released baseline's linear schedule (β from 0.0015 to 0.0195).

Every draw is made for the whole batch from the run's one generator, in a fixed order, so each
rank of a distributed job draws what a single process would and keeps its own `part`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from anobench.diffusion.coarse_noise import COARSE_NOISE_STD, FOREGROUND, coarse_noise
from anobench.diffusion.noise import NoiseKind
from anobench.diffusion.schedule import ScheduleConfig

INPUT_RANGE = (-1.0, 1.0)  # anobench trains and infers in [-1, 1], as THOR trained its brain models


def schedule_for(scheme: str) -> ScheduleConfig:
    """The schedule a scheme's checkpoint records: pDDPM's and cDDPM's cosine x0 prediction, the DAE's x0 output
    (its schedule is never used), THOR's linear noise prediction."""
    if scheme in ("patched", "conditioned"):  # the same released codebase (Behrendt et al.)
        return ScheduleConfig(schedule="cosine", prediction="sample")
    if scheme == "latent":  # the LDM baseline Wolleb et al. released
        return ScheduleConfig(beta_start=0.0015, beta_end=0.0195)
    return ScheduleConfig(prediction="sample") if scheme == "dae" else ScheduleConfig()


def draw_cells(generator: torch.Generator, images: int, cells: int) -> torch.Tensor:
    """The grid cell noised in each image, uniform over the cells."""
    return torch.randint(cells, (images,), generator=generator)


def _noised(alpha_bar: torch.Tensor, x0: torch.Tensor, t: torch.Tensor, epsilon: torch.Tensor) -> torch.Tensor:
    """x_t for a timestep per image; `alpha_bar` is the schedule's ᾱ (float32, on x0's device)."""
    scale = alpha_bar[t].view(-1, 1, 1, 1)
    return scale.sqrt() * x0 + (1 - scale).sqrt() * epsilon


def _draw_noise(noise: NoiseKind, generator: torch.Generator, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    # one draw per image at its own timestep, in image order (equal to one batched draw for Gaussian noise)
    return noise.draw_batch([generator] * len(t), x0.shape[1:], t.tolist(), x0.device)


def _diffusion_draw(
    alpha_bar: torch.Tensor, x0: torch.Tensor, noise: NoiseKind, generator: torch.Generator, part: slice
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A timestep and a noise draw per image of the whole batch, then this rank's `part` of the
    images, timesteps and noise."""
    t = torch.randint(len(alpha_bar), (x0.shape[0],), generator=generator)
    epsilon = _draw_noise(noise, generator, x0, t)
    return x0[part], t[part].to(x0.device), epsilon[part]


def full_image_loss(
    unet: torch.nn.Module,
    alpha_bar: torch.Tensor,
    x0: torch.Tensor,
    noise: NoiseKind,
    generator: torch.Generator,
    part: slice = slice(None),
) -> torch.Tensor:
    """The loss of the images `part` of the batch; every draw is made for the whole batch, so each
    rank of a distributed job draws what a single process would and keeps its own part."""
    x0, t, epsilon = _diffusion_draw(alpha_bar, x0, noise, generator, part)
    return F.mse_loss(unet(_noised(alpha_bar, x0, t, epsilon), t), epsilon)


def conditioned_loss(
    network: torch.nn.Module,
    alpha_bar: torch.Tensor,
    x0: torch.Tensor,
    noise: NoiseKind,
    generator: torch.Generator,
    part: slice = slice(None),
) -> torch.Tensor:
    """cDDPM's loss: the L1 error of the x0 the network predicts from x_t and the clean image."""
    x0, t, epsilon = _diffusion_draw(alpha_bar, x0, noise, generator, part)
    return F.l1_loss(network(_noised(alpha_bar, x0, t, epsilon), t, x0), x0)


def autoencoder_loss(network: torch.nn.Module, x0: torch.Tensor, part: slice = slice(None)) -> torch.Tensor:
    """The LDM's first stage: the VQ-VAE's L1 reconstruction error plus its quantisation loss, as
    released; `network` is the `LatentDiffusionNetwork` (called without timesteps)."""
    reconstruction, quantisation = network(x0[part])
    return F.l1_loss(reconstruction, x0[part]) + quantisation


def patched_loss(
    unet: torch.nn.Module,
    alpha_bar: torch.Tensor,
    x0: torch.Tensor,
    noise: NoiseKind,
    generator: torch.Generator,
    cells: torch.Tensor,
    part: slice = slice(None),
) -> torch.Tensor:
    """`cells`: K×H×W booleans of the patch grid (on x0's device), one of which is noised per image;
    `part` as in `full_image_loss`."""
    chosen = cells[draw_cells(generator, x0.shape[0], len(cells)).to(cells.device)][:, None]
    t = torch.randint(len(alpha_bar), (x0.shape[0],), generator=generator)
    epsilon = _draw_noise(noise, generator, x0, t)
    chosen, x0, t, epsilon = chosen[part], x0[part], t[part].to(x0.device), epsilon[part]
    x_t = torch.where(chosen, _noised(alpha_bar, x0, t, epsilon), x0)
    prediction = torch.where(chosen, unet(x_t, t), x0)
    return F.l1_loss(prediction, x0)


def denoising_loss(
    unet: torch.nn.Module, x0: torch.Tensor, generator: torch.Generator, part: slice = slice(None)
) -> torch.Tensor:
    """The DAE's loss on the images `part` of the batch `x0` (model range): coarse noise added inside
    the foreground, the output's squared error over the foreground, averaged over all pixels."""
    low, high = INPUT_RANGE
    noise = coarse_noise(generator, x0.shape).to(x0.device) * COARSE_NOISE_STD * (high - low)
    foreground = x0 > low + FOREGROUND * (high - low)
    x0, noise, foreground = x0[part], noise[part], foreground[part]
    at_zero = torch.zeros(len(x0), dtype=torch.long, device=x0.device)
    prediction = unet(x0 + noise * foreground, at_zero)
    return ((prediction - x0) ** 2 * foreground).mean()
