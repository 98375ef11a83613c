"""A trained denoiser: the MONAI UNet, its schedule, the intensity range it was trained in.

Methods talk to the network only through `predict`, which also counts network function
evaluations and the time spent inside them (for NFE and the forward-share benchmark). What the
network predicts (the noise, or x0 for pDDPM) is the schedule's `prediction`; `patch_size` is
set for models trained on one noised cell per image (pDDPM) and None for whole-image training;
`condition` for models that also see the clean image through an encoder (cDDPM); `latent` for
models that denoise an autoencoder's latents (LDM), reached through `to_latents` and `from_latents`.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from anobench.devices import synchronize
from anobench.diffusion.condition import ConditionConfig, ConditionedUNet
from anobench.diffusion.latent import LatentConfig, LatentDiffusionNetwork
from anobench.diffusion.presets import PRECISION_NAMES, ModelPreset, build_unet
from anobench.diffusion.schedule import NoiseSchedule, ScheduleConfig
from anobench.errors import AnobenchError

PRECISIONS = dict(zip(PRECISION_NAMES, (torch.float32, torch.bfloat16, torch.float16)))


@dataclass
class ForwardMeter:
    """Network calls and the seconds spent in them (device-synchronised)."""

    calls: int = 0
    seconds: float = 0.0


RELEASED_X0_CLIP = (-1.0, 1.0)  # the released scheduler's clip_sample range


class DiffusionModel:
    def __init__(
        self,
        preset: ModelPreset,
        schedule: ScheduleConfig,
        input_range: tuple[float, float],
        noise: str,
        device: torch.device,
        patch_size: int | None = None,
        condition: ConditionConfig | None = None,
        latent: LatentConfig | None = None,
    ) -> None:
        self.preset = preset
        self.patch_size = patch_size
        self.condition = condition
        self.latent = latent
        self.schedule = NoiseSchedule(schedule)
        self.input_range = input_range
        self.noise = noise
        self.device = device
        unet = build_unet(preset, 1 if latent is None else latent.embedding_dim)
        # the network trained and saved: the UNet, with its condition encoder (cDDPM) or its autoencoder (LDM)
        network: torch.nn.Module = unet
        if condition is not None:
            network = ConditionedUNet(unet, condition)
        elif latent is not None:
            network = LatentDiffusionNetwork(unet, latent)
        self.unet = network.to(device).eval()
        self.network: Callable[..., torch.Tensor] = self.unet  # what predict calls: the UNet, or its compiled form
        self.precision = "fp32"
        self.meter = ForwardMeter()

    @property
    def training_scheme(self) -> str:
        """How the network was trained (`anobench train --scheme`): `full` (whole image noised, noise
        predicted), `patched` (one noised cell, x0 predicted), `dae` (coarse noise, x0 predicted in
        one call, a denoising autoencoder), `conditioned` (whole image noised, x0 predicted given
        the clean image's encoding: cDDPM) or `latent` (a VQ-VAE's latents noised, noise predicted:
        LDM)."""
        if self.patch_size is not None:
            return "patched"
        if self.condition is not None:
            return "conditioned"
        if self.latent is not None:
            return "latent"
        return "dae" if self.schedule.config.prediction == "sample" else "full"

    def configure_inference(self, precision: str = "fp32", compile: bool = False) -> None:
        """Autocast the network to bf16/fp16 (outputs back in float32) and/or torch.compile it."""
        if precision not in PRECISIONS:
            raise AnobenchError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.precision = precision
        self.network = torch.compile(self.unet) if compile else self.unet

    def to_model_range(self, images: torch.Tensor) -> torch.Tensor:
        """[0, 1] images to the range the network was trained in."""
        low, high = self.input_range
        return images * (high - low) + low

    def to_unit_range(self, images: torch.Tensor) -> torch.Tensor:
        low, high = self.input_range
        return (images - low) / (high - low)

    def to_image(self, images: torch.Tensor) -> torch.Tensor:
        """Model-range images back to [0, 1], clamped: what a method returns as a reconstruction."""
        return self.to_unit_range(images).clamp(0.0, 1.0)

    def clamp(self, images: torch.Tensor) -> torch.Tensor:
        return images.clamp(*self.input_range)

    def clip_x0(self, x0_hat: torch.Tensor, rule: str = "input-range") -> torch.Tensor:
        """x̂0 clipped as `rule` says: `input-range`, the range the model was trained in; `released`,
        [−1, 1] whatever range the images are fed in (the released compai-lab / ci-ber scheduler's
        `clip_sample`: fed [0, 1], x̂0 may go below 0). Both agree for anobench's [−1, 1] checkpoints."""
        return x0_hat.clamp(*RELEASED_X0_CLIP) if rule == "released" else self.clamp(x0_hat)

    @contextmanager
    def metered(self) -> Iterator[ForwardMeter]:
        """The network calls and seconds spent inside the `with` block."""
        usage = ForwardMeter()
        calls, seconds = self.meter.calls, self.meter.seconds
        try:
            yield usage
        finally:
            usage.calls, usage.seconds = self.meter.calls - calls, self.meter.seconds - seconds

    def encode(self, clean: torch.Tensor) -> torch.Tensor:
        """A conditioned model's features of the clean images (model range), computed once per image
        and given to each `predict` on them. Its seconds count as network time; it is not an NFE
        (the denoiser is not called)."""
        if not isinstance(self.unet, ConditionedUNet):
            raise AnobenchError("only a conditioned model encodes the clean images")
        return self._timed(self.unet.encode, clean)

    def to_latents(self, images: torch.Tensor) -> torch.Tensor:
        """A latent model's encoding of model-range images (not quantised); timed as network time,
        not an NFE."""
        return self._timed(self._latent_network().encode, images)

    def from_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents quantised and decoded to model-range images; timed as network time, not an NFE."""
        return self._timed(self._latent_network().decode, latents)

    def _latent_network(self) -> LatentDiffusionNetwork:
        if not isinstance(self.unet, LatentDiffusionNetwork):
            raise AnobenchError("only a latent model has an autoencoder")
        return self.unet

    def predict(self, x_t: torch.Tensor, t: int, features: torch.Tensor | None = None) -> torch.Tensor:
        """The network's output at timestep t; a conditioned model also takes the clean images'
        features (`encode`)."""
        if (features is None) != (self.condition is None):
            raise AnobenchError("a conditioned model needs the clean images' features, and only it takes them")
        timesteps = torch.full((x_t.shape[0],), t, device=self.device, dtype=torch.long)
        prediction = self._timed(self.network, x_t, timesteps, **({} if features is None else {"features": features}))
        self.meter.calls += 1
        return prediction

    def _timed(
        self, network: Callable[..., torch.Tensor], *inputs: torch.Tensor, **named: torch.Tensor
    ) -> torch.Tensor:
        """`network(*inputs)` under the inference precision, its seconds added to the meter."""
        synchronize(self.device)
        start = time.perf_counter()
        with torch.autocast(self.device.type, dtype=PRECISIONS[self.precision], enabled=self.precision != "fp32"):
            output = network(*inputs, **named).float()
        synchronize(self.device)
        self.meter.seconds += time.perf_counter() - start
        return output
