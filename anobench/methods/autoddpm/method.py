"""AutoDDPM (Bercea et al., ICML IMLH workshop 2023): mask, stitch and re-sample.

1. Coarse reconstruction x̂: Gaussian noise to index T0 = 200, ancestral chain to 0 (the network
   at t = 200 … 0), the chain's final state clamped to [0, 1].
2. Stage-1 map M = perceptual(x̂, x) × r, r = |x − x̂| divided by its own 95th percentile (+1e-8,
   so an all-zero residual stays zero) and clipped to [0, 1]. Mask = (M > τ) dilated by a 3×3
   square. τ is calibrated on the dataset's healthy validation images — the smallest value that
   leaves at most `calibration_fpr` (5 %) of their pixels positive — or given as `threshold`
   (`mask_threshold=image-percentile`: each image's own 95th percentile of M, the only rule the
   released code runs); the value used is recorded in the run's settings.
3. RePaint from index 50, as released: x̂ noised to index 50; for t = 50 … 1, `resample_repeats`
   (5) times: the input noised to t − 1 with fresh noise (the known part), one DDPM step of the
   network inside the mask (the unknown part, with its posterior noise), merged by the mask; between
   repeats the merge is re-noised one step with β_{t−1}, as released. At t = 0 the known part is
   the clean input and the inpainted region keeps the last step's sample.
4. Final map = |x − inpainted| × M, so it is exactly 0 outside the dilated mask.
NFE per image: T0 + 1 + 50 × 5 = 451 at stride 1. `stride` respaces both chains (the jumps use
the exact posterior and forward kernels between kept indices) to save time on CPUs.
As released (golden test against ci-ber/autoDDPM): x̂0 clipped to [−1, 1] whatever range the images
are fed in (`x0_clip`), the schedule in float32 (`schedule_arithmetic`), LPIPS fed 4x − 3
(`lpips_double_scaling`, for the `lpips-*` backends).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from anobench.api import Batch, Case, MethodContext, Prediction
from anobench.config import bounded, build_config, to_plain
from anobench.diffusion.denoiser import load_denoiser
from anobench.diffusion.model import DiffusionModel
from anobench.diffusion.noise import CaseRandom, noise_kind
from anobench.diffusion.sampler import reverse_step
from anobench.diffusion.schedule import T_MAX, respaced_timesteps
from anobench.errors import AnobenchError
from anobench.perceptual import Backend, PerceptualBackend, open_backend

RESIDUAL_PERCENTILE = 95.0
NORMALISATION_EPSILON = 1e-8
CALIBRATION_BATCH = 8


@dataclass(frozen=True)
class AutoDDPMConfig:
    t0: int = bounded(200, 1, T_MAX)  # the coarse reconstruction's noise level
    resample_from: int = bounded(50, 1, T_MAX)  # RePaint from index 50: the network at t = 50 … 1, as released
    resample_repeats: int = bounded(5, 1)  # RePaint repeats per step
    threshold: float | None = None  # None: calibrated on healthy validation images
    calibration_fpr: float = bounded(0.05, 0.0, 1.0)  # share of healthy pixels the calibrated mask τ leaves above it
    calibration_cases: int = bounded(64, 1)  # healthy validation images the τ is calibrated on
    perceptual: Backend = "unet"  # as THOR's default: the same on every machine
    lpips_weights: str | None = None  # a folder with LPIPS ImageNet weights (lpips-* backends)
    stride: int | None = bounded(None, 1)  # None: the model preset's default (1 for `paper`)
    sampler: Literal["ddpm", "ddim"] = "ddpm"  # of the coarse chain; RePaint's re-sampling stays ancestral
    noise: Literal["gaussian"] = "gaussian"  # Gaussian only, as released
    mask_threshold: Literal["calibrated", "image-percentile"] = "calibrated"  # when `threshold` is not given
    x0_clip: Literal["released", "input-range"] = "released"  # released: x̂0 to [−1, 1] whatever the input range
    schedule_arithmetic: Literal["float32", "float64"] = "float32"  # float32: the released scheduler's
    lpips_double_scaling: bool = True  # LPIPS fed 4x − 3, as released


def normalised_residual(images: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """|x − x̂| over its own 95th percentile (+1e-8) per image, clipped to [0, 1]."""
    residual = (images - reconstructions).abs()
    scale = torch.quantile(residual.flatten(1).float(), RESIDUAL_PERCENTILE / 100, dim=1)
    return (residual / (scale.view(-1, 1, 1, 1) + NORMALISATION_EPSILON)).clamp(0.0, 1.0)


def image_percentile(stage_map: torch.Tensor) -> torch.Tensor:
    """Each image's own 95th percentile of M, clipped to [0, 1] (the released `masking_threshold=-1`), B×1×1×1."""
    return torch.quantile(stage_map.flatten(1).float(), 0.95, dim=1).clamp(0.0, 1.0).view(-1, 1, 1, 1)


def dilate(mask: torch.Tensor) -> torch.Tensor:
    """Binary dilation by a 3×3 square (one iteration)."""
    return F.max_pool2d(mask.float(), kernel_size=3, stride=1, padding=1)


def threshold_for_fpr(values: np.ndarray, fpr: float) -> float:
    """The smallest τ among the values with at most a fraction `fpr` of them above it."""
    ordered = np.sort(values.ravel())
    allowed = int(np.floor(fpr * ordered.size))
    return float(ordered[ordered.size - allowed - 1])


class AutoDDPM:
    def __init__(self, config: AutoDDPMConfig, context: MethodContext) -> None:
        if not 1 <= config.resample_from <= config.t0:
            raise AnobenchError(f"resample_from must be in 1..{config.t0}, got {config.resample_from}")
        if config.resample_repeats < 1:
            raise AnobenchError(f"resample_repeats must be at least 1, got {config.resample_repeats}")
        model, self.checkpoint = load_denoiser(context, config.noise)
        self.build(
            config, model, open_backend(config.perceptual, model, config.lpips_weights, config.lpips_double_scaling)
        )
        self.calibration: dict[str, Any] = {"source": "given"}
        if config.threshold is None and config.mask_threshold == "image-percentile":
            self.calibration = {"source": "each image's 95th percentile"}
        self.threshold = config.threshold if config.threshold is not None else self._calibrate(context)

    def build(self, config: AutoDDPMConfig, model: DiffusionModel, perceptual: PerceptualBackend) -> None:
        """Everything but the threshold (tests build the released setting on stubs through it)."""
        self.model, self.config, self.perceptual = model, config, perceptual
        self.stride = model.preset.default_stride if config.stride is None else config.stride
        self.noise = noise_kind(config.noise)
        self.schedule = model.schedule.with_arithmetic(config.schedule_arithmetic)

    def _calibrate(self, context: MethodContext) -> float | None:
        if self.config.mask_threshold == "image-percentile":
            return None
        limit = self.config.calibration_cases
        cases: Sequence[Case] = context.healthy_validation(limit) if context.healthy_validation else []
        if not cases:
            raise AnobenchError(
                f"AutoDDPM calibrates its mask threshold on healthy validation images, and dataset "
                f"{context.dataset!r} declares none; pass --set threshold=VALUE"
            )
        values, start = [], time.perf_counter()
        with torch.inference_mode():
            for first in range(0, len(cases), CALIBRATION_BATCH):
                chunk = cases[first : first + CALIBRATION_BATCH]
                images = torch.stack([torch.from_numpy(case.image) for case in chunk])[:, None]
                batch = Batch(images, [case.case_id for case in chunk], context.seed)
                values.append(self.stage_one(batch)[2].cpu().numpy())
        pooled = np.concatenate([v.ravel() for v in values])
        threshold = threshold_for_fpr(pooled, self.config.calibration_fpr)
        self.calibration = {
            "source": f"healthy validation ({context.validation_split})",
            "cases": len(cases),
            "target_fpr": self.config.calibration_fpr,
            "achieved_fpr": float((pooled > threshold).mean()),
            "seconds": round(time.perf_counter() - start, 2),
        }
        return threshold

    def settings(self) -> dict[str, Any]:
        return {
            **to_plain(self.config),
            "threshold": self.threshold,
            "calibration": self.calibration,
            "perceptual_requested": self.config.perceptual,
            "perceptual": self.perceptual.name,
            "stride": self.stride,
            "checkpoint": self.checkpoint,
        }

    def _step(self, x_t: torch.Tensor, t: int, s: int, fresh: Callable[[], torch.Tensor]) -> torch.Tensor:
        """One network call at t and the step to s (the DDIM step with `sampler=ddim`, else the
        posterior sample; its mean alone at s = −1)."""
        x0_hat = self.model.clip_x0(
            self.schedule.x0_from_noise(x_t, t, self.model.predict(x_t, t)), self.config.x0_clip
        )
        return reverse_step(self.schedule, x0_hat, x_t, t, s, self.config.sampler, fresh)

    def coarse(self, images: torch.Tensor, random: CaseRandom) -> torch.Tensor:
        """Stage 1's reconstruction: noised to T0, the chain's final state, in [0, 1]."""
        shape, timesteps = images.shape[1:], respaced_timesteps(self.config.t0, self.stride)
        x_t = self.schedule.q_sample(
            self.model.to_model_range(images), timesteps[0], random.sample(self.noise, shape, timesteps[0])
        )
        for t, s in zip(timesteps, timesteps[1:] + [-1]):
            x_t = self._step(x_t, t, s, partial(random.sample, self.noise, shape, t))
        return self.model.to_image(x_t)

    def stage_one(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images on the device, the coarse reconstruction and the stage-1 map M."""
        images = batch.images.to(self.model.device)
        coarse = self.coarse(images, CaseRandom(batch.case_ids, batch.seed, self.model.device))
        # the input first, the reconstruction second, as the released call (a symmetric distance either way)
        stage_map = self.perceptual.distance_map(images, coarse) * normalised_residual(images, coarse)
        return images, coarse, stage_map

    def _renoise(self, x_s: torch.Tensor, s: int, t: int, noise: torch.Tensor) -> torch.Tensor:
        """Back from s to t between repeats: one step with β_{t−1} as released (consecutive indices),
        the forward kernel from s to t across a stride."""
        if t - s == 1:
            beta = self.schedule.betas[t - 1]
            return (1 - beta).sqrt().float() * x_s + beta.sqrt().float() * noise
        return self.schedule.q_jump(x_s, s, t, noise)

    def resample(self, batch: Batch, images: torch.Tensor, coarse: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """RePaint: regenerate the masked region, keep the input elsewhere; returns [0, 1] images."""
        model, schedule = self.model, self.schedule
        random = CaseRandom([f"{case_id}/resample" for case_id in batch.case_ids], batch.seed, model.device)
        shape = images.shape[1:]
        clean = model.to_model_range(images)
        kept = respaced_timesteps(self.config.resample_from, self.stride)
        x_t = schedule.q_sample(model.to_model_range(coarse), kept[0], random.sample(self.noise, shape, kept[0]))
        for t, s in zip(kept, kept[1:]):
            for repeat in range(self.config.resample_repeats):
                known = schedule.q_sample(clean, s, random.sample(self.noise, shape, s))
                unknown = self._step(x_t, t, s, partial(random.sample, self.noise, shape, t))
                x_s = torch.where(mask > 0, unknown, known)
                if repeat < self.config.resample_repeats - 1:
                    x_t = self._renoise(x_s, s, t, random.sample(self.noise, shape, t))
            x_t = x_s
        inpainted = model.to_image(x_t)  # at t = 0 the inpainted region keeps the last sample, as released
        return torch.where(mask > 0, inpainted, images)  # the clean input outside the mask

    def predict(self, batch: Batch) -> Prediction:
        with self.model.metered() as usage:
            images, coarse, stage_map = self.stage_one(batch)
            threshold = image_percentile(stage_map) if self.threshold is None else self.threshold
            mask = dilate(stage_map > threshold)
            inpainted = self.resample(batch, images, coarse, mask)
        maps = (images - inpainted).abs() * stage_map
        extras = {"stage_one_map": stage_map, "mask": mask, "coarse_reconstruction": coarse}
        return Prediction(maps, inpainted, nfe=usage.calls, network_seconds=usage.seconds, extras=extras)


def create(options: Mapping[str, str], context: MethodContext) -> AutoDDPM:
    return AutoDDPM(build_config(AutoDDPMConfig, options), context)
