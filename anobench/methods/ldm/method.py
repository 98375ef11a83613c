"""LDM: reconstruction by a diffusion model in a VQ-VAE's latent space (Pinaya et al., MICCAI
DGM4MICCAI 2022), in the form Wolleb et al. released as their LDM baseline (MICCAI 2024,
JuliaWolleb/Anomaly_berdiff at f1520fb, `Bernoulli_Diffusion/scripts/ldm_sample.py` and
`evaluation.py`, deleted upstream in the next commit).

A model trained with `anobench train --scheme latent` (`anobench.diffusion.latent`) encodes the
image; the encoder's latents (not quantised, as released) are noised to timestep `t` (300) and
the full ancestral chain steps them back to timestep 0, one network call per step (t → t − 1,
for t = 300 … 1, as MONAI's DDPMScheduler steps: x̂0 clipped to [−1, 1], fixed-small variance,
float32 arithmetic); the result is quantised to the codebook and decoded. The map is the one the
release reports, computed by its evaluation script from the image and the saved reconstruction:
the squared residual (x − x̂)², median-filtered 5 × 5, clipped to its own 1st–99th percentiles and
min–max normalised per image (golden test; `map=residual` keeps the plain squared residual, the map
the sampler's dead code would have drawn, anobench's before 2026-12-07). NFE = t.

The clipping is the scheduler's default, made for images in [−1, 1]; the release keeps it in the
latent space, where nothing bounds the latents. `clip=false` leaves x̂0 unclipped: it matters as
soon as the VQ-VAE's latents grow beyond ±1, which they do the longer it trains (README).

Pinaya et al. also form a mask in the latent space from the diffusion's reverse steps and heal
only the masked latents; their code is not public, and that step is not implemented here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Mapping

import numpy as np
import torch
from scipy import ndimage

from anobench.api import Batch, MethodContext, Prediction
from anobench.config import bounded, build_config, to_plain
from anobench.diffusion.denoiser import load_denoiser
from anobench.diffusion.noise import CaseRandom, noise_kind
from anobench.diffusion.sampler import reverse_step
from anobench.diffusion.schedule import T_MAX

MEDIAN_SIZE = 5


@dataclass(frozen=True)
class LDMConfig:
    t: int = bounded(300, 1, T_MAX)  # the latents are noised to this timestep; the chain takes t steps back
    noise: Literal["gaussian"] = "gaussian"  # Gaussian only, as trained
    clip: bool = True  # x̂0 clipped to [−1, 1] at each step, as the release's scheduler does
    # evaluation: the release's normalised map; residual: (x − x̂)²
    map: Literal["evaluation", "residual"] = "evaluation"


def evaluation_map(squared: np.ndarray) -> np.ndarray:
    """The released evaluation's map of one H×W squared residual: a 5×5 median, clipped to its 1st and
    99th percentiles, min–max normalised (zero where nothing varies; the release divides by zero)."""
    filtered = ndimage.median_filter(squared, size=MEDIAN_SIZE)
    low, high = np.percentile(filtered, [1, 99])
    clipped = np.clip(filtered, np.float32(low), np.float32(high))
    span = clipped.max() - clipped.min()
    return (clipped - clipped.min()) / span if span > 0 else np.zeros_like(clipped)


class LDM:
    def __init__(self, config: LDMConfig, context: MethodContext) -> None:
        self.model, self.checkpoint = load_denoiser(context, config.noise, scheme="latent")
        self.config = config
        self.noise = noise_kind(config.noise)

    def settings(self) -> dict[str, Any]:
        departures = [
            *([] if self.config.clip else ["no clip"]),
            *(["residual"] if self.config.map == "residual" else []),
        ]
        variant = ", ".join(departures)  # boards label the release's default plainly
        return {**to_plain(self.config), "checkpoint": self.checkpoint, "variant": variant}

    def reconstruct(self, batch: Batch) -> torch.Tensor:
        """The decoded end of the latent chain, in [0, 1]."""
        model = self.model
        schedule = model.schedule.with_arithmetic("float32")  # the release steps with MONAI's float32 scheduler
        latents = model.to_latents(model.to_model_range(batch.images.to(model.device)))
        random = CaseRandom(batch.case_ids, batch.seed, model.device)
        shape = latents.shape[1:]
        x_t = schedule.q_sample(latents, self.config.t, random.sample(self.noise, shape, self.config.t))
        for t in range(self.config.t, 0, -1):
            x0_hat = schedule.x0_from_noise(x_t, t, model.predict(x_t, t))
            x0_hat = model.clamp(x0_hat) if self.config.clip else x0_hat
            x_t = reverse_step(schedule, x0_hat, x_t, t, t - 1, "ddpm", partial(random.sample, self.noise, shape, t))
        return model.to_image(model.from_latents(x_t))

    def predict(self, batch: Batch) -> Prediction:
        with self.model.metered() as usage:
            reconstructions = self.reconstruct(batch)
        maps = (batch.images.to(reconstructions.device) - reconstructions) ** 2
        if self.config.map == "evaluation":
            released = [evaluation_map(m[0]) for m in maps.cpu().numpy()]
            maps = torch.from_numpy(np.stack(released)[:, None]).to(maps.device)
        return Prediction(maps, reconstructions, nfe=usage.calls, network_seconds=usage.seconds)


def create(options: Mapping[str, str], context: MethodContext) -> LDM:
    return LDM(build_config(LDMConfig, options), context)
