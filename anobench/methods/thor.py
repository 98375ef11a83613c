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

Quirks of the released code, each an option:
- `lpips_double_scaling`: LPIPS sees 4x − 3 (the code maps to 2x − 1 and asks LPIPS to normalise
  again). Default: on for `reference`, off for `paper`.
- `batch_coupling`: smoothing along the batch axis, normalisation by the batch maximum and one noise
  draw per batch, as released. Default off: normalisation, smoothing and noise are per image, so
  maps do not depend on the batch; at batch size 1 both agree.
- The input range of released checkpoints is recorded at import (`anobench import-checkpoint`).

Departures: perceptual backend `auto` (default) is the paper's `lpips-squeeze` when the ImageNet
weights are on disk, else `unet` (see `anobench.perceptual`); the backend used is recorded. With a
sampler stride the map and harmonization steps snap to the nearest kept timestep (the larger on a
tie); stride 1, or any stride dividing 50, keeps them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping

import torch

from anobench.api import Batch, MethodContext, MethodPlugin, Prediction
from anobench.config import build_config, to_plain
from anobench.diffusion.noise import noise_kind
from anobench.diffusion.sampler import chain_for_batch
from anobench.diffusion.schedule import respaced_timesteps
from anobench.errors import AnobenchError
from anobench.methods import thor_maps
from anobench.methods.ddpm import load_denoiser
from anobench.perceptual import Backend, open_backend

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
    t0: int | None = None  # None: the noise preset's (350 Gaussian, 250 simplex)
    harmonization: tuple[int, ...] | None = None  # None: the noise preset's
    protocol: Literal["reference", "paper"] = "reference"
    perceptual: Backend = "auto"
    lpips_weights: str | None = None  # ImageNet trunk weights file; None: the torch hub cache
    lpips_double_scaling: bool | None = None  # None: as released for `reference`, off for `paper`
    batch_coupling: bool = False
    stride: int | None = None  # None: the model preset's default (1 for `paper`)
    sampler: Literal["ddpm", "ddim"] = "ddpm"  # between harmonization steps: ancestral, or DDIM (η = 0)
    noise: Noise = "gaussian"


class THOR:
    def __init__(self, config: THORConfig, context: MethodContext) -> None:
        self.model, self.checkpoint = load_denoiser(context, config.noise)
        preset_t0, preset_harmonization = NOISE_PRESETS[config.noise]
        self.t0 = preset_t0 if config.t0 is None else config.t0
        harmonization = preset_harmonization if config.harmonization is None else config.harmonization
        self.config = config
        self.stride = config.stride or self.model.preset.default_stride
        self.noise = noise_kind(config.noise)
        self.double_scaling = (
            config.protocol == "reference" if config.lpips_double_scaling is None else config.lpips_double_scaling
        )
        self.perceptual = open_backend(config.perceptual, self.model, config.lpips_weights, self.double_scaling)
        side = context.image_size
        self.sigma = thor_maps.scaled_pixels(2.0, side)
        self.kernel = thor_maps.scaled_kernel(13, side)
        kept = respaced_timesteps(self.t0, self.stride)
        wanted_h = [t for t in harmonization if t <= self.t0]
        self.harmonization_steps = thor_maps.snap_to_kept(wanted_h, kept) if wanted_h else []
        if config.protocol == "reference":
            every = [t for t in range(MAP_FROM, -1, -MAP_EVERY) if t <= self.t0]
            self.map_steps = thor_maps.snap_to_kept(every + wanted_h, kept)
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
            "stride": self.stride,
            "map_steps": self.map_steps,
            "harmonization_steps": self.harmonization_steps,
            "smoothing_sigma": self.sigma,
            "morphology_kernel": self.kernel,
            "checkpoint": self.checkpoint,
        }

    def anomaly_map(self, images: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        residual = (images - estimate).abs()
        perceptual = self.perceptual.distance_map(estimate, images)
        return thor_maps.compose_map(residual, perceptual, self.sigma, self.config.batch_coupling)

    def predict(self, batch: Batch) -> Prediction:
        model = self.model
        images, chain = chain_for_batch(
            model, batch, self.t0, self.stride, self.noise, shared_noise=self.config.batch_coupling,
            sampler=self.config.sampler,
        )
        maps = []
        with model.metered() as usage:
            for state in chain:
                if state.t not in self.map_steps:
                    continue
                estimate = model.to_unit_range(state.x0_hat)
                anomaly = self.anomaly_map(images, estimate)
                maps.append(anomaly)
                if state.t in self.harmonization_steps:
                    blended = thor_maps.blend(thor_maps.guidance_mask(anomaly, self.kernel), estimate, images)
                    renoised = model.schedule.q_sample(model.to_model_range(blended), state.t, chain.initial_noise)
                    state.x_next = renoised
        reconstructions = model.to_image(state.x0_hat)
        final = thor_maps.harmonic_mean(maps).clamp(0.0, thor_maps.FINAL_MAP_CEILING)
        return Prediction(final, reconstructions, nfe=usage.calls, network_seconds=usage.seconds)


def create(options: Mapping[str, str], context: MethodContext) -> THOR:
    return THOR(build_config(THORConfig, options), context)


plugin = MethodPlugin(
    name="thor",
    description="THOR (MICCAI 2024): implicitly guided partial diffusion, harmonic-mean map.",
    create=create,
)
