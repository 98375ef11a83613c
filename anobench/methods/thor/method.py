"""THOR: diffusion models with implicit guidance for medical anomaly detection.

Bercea, Wiestler, Rueckert, Schnabel, MICCAI 2024 (code: compai-lab/2024-miccai-bercea-thor).
A DDPM trained on healthy images noises the input to T0 and denoises it; at harmonization steps
H the running estimate is blended with the input where an anomaly map says "healthy" and the
chain continues from that blend; the final map is the harmonic mean of the intermediate maps.

Protocols (`protocol=`):
- `reference` (default) — the released code at batch size 1: maps at every t in H ∪ V (V = 700,
  650, …, 0, those ≤ T0), harmonic mean over all of them.
- `paper` — the paper's equations: maps (and their harmonic mean) at H only.
Both: map a = normalise(|x − x̂0(t)| · clip(smooth_σ(perceptual(x̂0(t), x)), 0, 1)); guidance
g = clip((dilation(closing(a)) + a) / 2, 0, 1) with flat k×k grey morphology and 'nearest' borders;
at t in H the chain restarts from x_t = sqrt(ᾱ_t)·clip(g·x̂0 + (1 − g)·x, 0, 1) + sqrt(1 − ᾱ_t)·ε with
the initial ε (re-noised to level t, as released); final map clipped to [0, 0.999], score = mean.
σ = 2 and k = 13 at 128×128, scaled with the image side (σ = 1, k = 7 at 64×64).

Presets by noise (`noise=`): Gaussian T0 = 350, H = {300, 150, 50}; simplex T0 = 250,
H = {200, 150, 100, 50} (the simplex field is also the noise of every reverse step).

Quirks of the released code, each an option (None: as released for `reference`, corrected for `paper`):
- `lpips_double_scaling`: LPIPS sees 4x − 3 (the code maps to 2x − 1 and asks LPIPS to normalise
  again).
- `x0_clip`: `released` clips x̂0 to [−1, 1] whatever range the images are fed in (the scheduler's
  `clip_sample`; the released evaluation feeds [0, 1], so x̂0 may go below 0 and that value enters the
  maps, the blend and the next step); `input-range` clips it to the range the model was trained in.
  Both agree for anobench's own checkpoints (trained and run in [−1, 1]).
- `schedule_arithmetic`: `float32` is the released scheduler's arithmetic, `float64` anobench's
  (see `anobench.diffusion.schedule`).
- `batch_coupling`: smoothing along the batch axis, normalisation by the batch maximum and one noise
  draw per batch, as released. Default off: normalisation, smoothing and noise are per image, so
  maps do not depend on the batch; at batch size 1 both agree.
- The input range of released checkpoints is recorded at import (`anobench import-checkpoint`).
With the released choices, `protocol=reference` reproduces the released chain on identical inputs,
denoiser and noise (golden test against the official code, ≤ 1e-5).

The loop (`guided_chain`) is THOR's own: denoise, take a map at the map steps, blend and re-noise at
H, otherwise step the DDPM posterior (or DDIM). The reconstruction returned is the chain's final
state clamped to [0, 1], as released; it does not enter the map.

Departures: the default perceptual backend is `unet` (the denoiser's own features) on every
machine, so a default run means the same everywhere; the paper's `lpips-squeeze` needs ImageNet
weights that cannot be shipped: `perceptual=lpips-squeeze` uses them and refuses to run without
them, `perceptual=auto` takes them when present (with a warning when not). The backend used is
recorded. With a
sampler stride the map and harmonization steps snap to the nearest kept timestep (the larger on a
tie); stride 1, or any stride dividing 50, keeps them exactly. `smoothing_sigma` and
`morphology_kernel` override the scaled values (e.g. the released σ = 2 and 13×13 at any size).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Mapping

import torch

from anobench.api import Batch, MethodContext, Prediction
from anobench.config import bounded, build_config, to_plain
from anobench.diffusion.denoiser import load_denoiser
from anobench.diffusion.model import DiffusionModel
from anobench.diffusion.noise import CaseRandom, NoiseSource, noise_kind
from anobench.diffusion.sampler import reverse_step
from anobench.diffusion.schedule import T_MAX, respaced_timesteps
from anobench.errors import AnobenchError
from anobench.methods.thor import maps as thor_maps
from anobench.perceptual import Backend, PerceptualBackend, open_backend

MAP_EVERY = 50
MAP_FROM = 700
NOISE_PRESETS = {  # noise → (T0, harmonization steps) of the released configs
    "gaussian": (350, (300, 150, 50)),
    "simplex": (250, (200, 150, 100, 50)),
    "simplex-normalised": (250, (200, 150, 100, 50)),
}
Noise = Literal["gaussian", "simplex", "simplex-normalised"]


@dataclass(frozen=True)
class THORConfig:
    t0: int | None = bounded(None, 1, T_MAX)  # None: the noise preset's (350 Gaussian, 250 simplex)
    harmonization: tuple[int, ...] | None = None  # None: the noise preset's
    protocol: Literal["reference", "paper"] = "reference"  # reference: the released code; paper: the paper's equations
    perceptual: Backend = "unet"  # the same on every machine; lpips-squeeze (the paper's) needs ImageNet weights
    lpips_weights: str | None = None  # ImageNet trunk weights file; None: the torch hub cache
    lpips_double_scaling: bool | None = None  # None: as released for `reference`, off for `paper`
    x0_clip: Literal["released", "input-range"] | None = None  # None: released for `reference`
    schedule_arithmetic: Literal["float32", "float64"] | None = None  # None: float32 for `reference`
    smoothing_sigma: float | None = bounded(None, 0.001)  # None: σ = 2 at 128 px, scaled to the image side
    morphology_kernel: int | None = bounded(None, 1)  # None: 13 at 128 px, scaled (odd) to the image side
    batch_coupling: bool = False  # smoothing, normalisation and noise coupled across the batch, as released
    stride: int | None = bounded(None, 1)  # None: the model preset's default (1 for `paper`)
    sampler: Literal["ddpm", "ddim"] = "ddpm"  # between harmonization steps: ancestral, or DDIM (η = 0)
    noise: Noise = "gaussian"  # gaussian (T0 350) or simplex (T0 250): the preset and the checkpoint


class THOR:
    """THOR on a loaded denoiser; `perceptual` replaces the backend the config names (tests)."""

    def __init__(
        self,
        config: THORConfig,
        model: DiffusionModel,
        image_size: int,
        checkpoint: dict[str, Any] | None = None,
        perceptual: PerceptualBackend | None = None,
    ) -> None:
        self.model, self.checkpoint, self.config = model, checkpoint, config
        preset_t0, preset_harmonization = NOISE_PRESETS[config.noise]
        self.t0 = preset_t0 if config.t0 is None else config.t0
        harmonization = preset_harmonization if config.harmonization is None else config.harmonization
        self.stride = model.preset.default_stride if config.stride is None else config.stride
        self.noise = noise_kind(config.noise)
        released = config.protocol == "reference"
        self.double_scaling = released if config.lpips_double_scaling is None else config.lpips_double_scaling
        self.x0_clip = config.x0_clip or ("released" if released else "input-range")
        self.schedule = model.schedule.with_arithmetic(
            config.schedule_arithmetic or ("float32" if released else "float64")
        )
        self.perceptual = perceptual or open_backend(
            config.perceptual, model, config.lpips_weights, self.double_scaling
        )
        sigma, kernel = config.smoothing_sigma, config.morphology_kernel
        self.sigma = thor_maps.scaled_pixels(2.0, image_size) if sigma is None else sigma
        self.kernel = thor_maps.scaled_kernel(13, image_size) if kernel is None else kernel
        self.timesteps = respaced_timesteps(self.t0, self.stride)
        wanted_h = [t for t in harmonization if t <= self.t0]
        self.harmonization_steps = thor_maps.snap_to_kept(wanted_h, self.timesteps) if wanted_h else []
        if config.protocol == "reference":
            every = [t for t in range(MAP_FROM, -1, -MAP_EVERY) if t <= self.t0]
            self.map_steps = thor_maps.snap_to_kept(every + wanted_h, self.timesteps)
        else:
            self.map_steps = list(self.harmonization_steps)
        if not self.map_steps:
            raise AnobenchError(f"THOR needs a harmonization step at or below T0 = {self.t0}")

    def settings(self) -> dict[str, Any]:
        return {
            **to_plain(self.config),
            "t0": self.t0,
            "perceptual_requested": self.config.perceptual,
            "perceptual": self.perceptual.name,
            "lpips_double_scaling": self.double_scaling if self.perceptual.name.startswith("lpips") else None,
            "x0_clip": self.x0_clip,
            "schedule_arithmetic": self.schedule.arithmetic,
            "stride": self.stride,
            "map_steps": self.map_steps,
            "harmonization_steps": self.harmonization_steps,
            "smoothing_sigma": self.sigma,
            "morphology_kernel": self.kernel,
            "checkpoint": self.checkpoint,
        }

    def anomaly_map(self, images: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        """Eq. (3) between the input and a clean-image estimate, both in [0, 1]."""
        residual = (images - estimate).abs()
        perceptual = self.perceptual.distance_map(estimate, images)
        return thor_maps.compose_map(residual, perceptual, self.sigma, self.config.batch_coupling)

    def guided_chain(self, images: torch.Tensor, random: NoiseSource) -> tuple[torch.Tensor, torch.Tensor]:
        """THOR's reverse chain from [0, 1] images: (final anomaly map, reconstruction in [0, 1])."""
        model, schedule = self.model, self.schedule
        x_in = model.to_model_range(images)
        epsilon = random.sample(self.noise, images.shape[1:], self.t0)  # drawn once, reused at every H
        x_t = schedule.q_sample(x_in, self.t0, epsilon)
        maps = []
        for t, t_next in zip(self.timesteps, self.timesteps[1:] + [-1]):
            x0_hat = model.clip_x0(schedule.x0_from_noise(x_t, t, model.predict(x_t, t)), self.x0_clip)
            if t in self.map_steps:
                estimate = model.to_unit_range(x0_hat)
                anomaly = self.anomaly_map(images, estimate)
                maps.append(anomaly)
            if t in self.harmonization_steps:  # eq. (4), then back to level t (not t_next), as released
                blended = thor_maps.blend(thor_maps.guidance_mask(anomaly, self.kernel), estimate, images)
                x_t = schedule.q_sample(model.to_model_range(blended), t, epsilon)
            else:
                fresh = partial(random.sample, self.noise, images.shape[1:], t)
                x_t = reverse_step(schedule, x0_hat, x_t, t, t_next, self.config.sampler, fresh)
        final = thor_maps.harmonic_mean(maps).clamp(0.0, thor_maps.FINAL_MAP_CEILING)
        return final, model.to_image(x_t)

    def predict(self, batch: Batch) -> Prediction:
        images = batch.images.to(self.model.device)
        random = CaseRandom(batch.case_ids, batch.seed, self.model.device, shared=self.config.batch_coupling)
        with self.model.metered() as usage:
            maps, reconstructions = self.guided_chain(images, random)
        return Prediction(maps, reconstructions, nfe=usage.calls, network_seconds=usage.seconds)


def create(options: Mapping[str, str], context: MethodContext) -> THOR:
    config = build_config(THORConfig, options)
    model, checkpoint = load_denoiser(context, config.noise)
    return THOR(config, model, context.image_size, checkpoint)
