"""AutoDDPM (Bercea et al., ICML IMLH workshop 2023): mask, stitch and re-sample.

1. Coarse reconstruction x̂: Gaussian noise to T0 = 200, ancestral chain to 0, clamped to [0, 1].
2. Stage-1 map M = perceptual(x̂, x) × r, r = |x − x̂| divided by its own 95th percentile (+1e-8,
   so an all-zero residual stays zero) and clipped to [0, 1]. Mask = (M > τ) dilated by a 3×3
   square. τ is calibrated on the dataset's healthy validation images — the smallest value that
   leaves at most `calibration_fpr` (5 %) of their pixels positive — or given as `threshold`;
   the value used is recorded in the run's settings.
3. RePaint from t = 50: x̂ noised to index 49, then for each kept index, `resample_repeats` (5)
   times: one DDPM step inside the mask, the input noised to the next index with fresh noise
   outside it, merged by the mask; between repeats the merge is re-noised back by one step.
   The last step's known part is the clean input itself.
4. Final map = |x − inpainted| × M, so it is exactly 0 outside the dilated mask.
NFE per image: T0 + 1 + 50 × 5 = 451 at stride 1. `stride` respaces both chains (the jumps use
the exact posterior and forward kernels between kept indices) to save time on CPUs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from anobench.api import Batch, Case, MethodContext, Prediction
from anobench.config import bounded, build_config, to_plain
from anobench.diffusion.denoiser import load_denoiser
from anobench.diffusion.noise import CaseRandom, noise_kind
from anobench.diffusion.sampler import chain_for_batch
from anobench.diffusion.schedule import T_MAX, respaced_timesteps
from anobench.errors import AnobenchError
from anobench.perceptual import Backend, open_backend

RESIDUAL_PERCENTILE = 95.0
NORMALISATION_EPSILON = 1e-8
CALIBRATION_BATCH = 8


@dataclass(frozen=True)
class AutoDDPMConfig:
    t0: int = bounded(200, 1, T_MAX)
    resample_from: int = bounded(50, 1, T_MAX)  # RePaint starts at the 50th step (index 49)
    resample_repeats: int = bounded(5, 1)
    threshold: float | None = None  # None: calibrated on healthy validation images
    calibration_fpr: float = bounded(0.05, 0.0, 1.0)
    calibration_cases: int = bounded(64, 1)
    perceptual: Backend = "unet"  # as THOR's default: the same on every machine
    lpips_weights: str | None = None
    stride: int | None = bounded(None, 1)  # None: the model preset's default (1 for `paper`)
    sampler: Literal["ddpm", "ddim"] = "ddpm"  # of the coarse chain; RePaint's re-sampling stays ancestral
    noise: Literal["gaussian"] = "gaussian"


def normalised_residual(images: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """|x − x̂| over its own 95th percentile (+1e-8) per image, clipped to [0, 1]."""
    residual = (images - reconstructions).abs()
    scale = torch.quantile(residual.flatten(1).float(), RESIDUAL_PERCENTILE / 100, dim=1)
    return (residual / (scale.view(-1, 1, 1, 1) + NORMALISATION_EPSILON)).clamp(0.0, 1.0)


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
        if not 1 <= config.resample_from <= config.t0 + 1:
            raise AnobenchError(f"resample_from must be in 1..{config.t0 + 1}, got {config.resample_from}")
        if config.resample_repeats < 1:
            raise AnobenchError(f"resample_repeats must be at least 1, got {config.resample_repeats}")
        self.model, self.checkpoint = load_denoiser(context, config.noise)
        self.config = config
        self.stride = self.model.preset.default_stride if config.stride is None else config.stride
        self.noise = noise_kind(config.noise)
        self.perceptual = open_backend(config.perceptual, self.model, config.lpips_weights)
        self.calibration: dict[str, Any] = {"source": "given"}
        self.threshold = config.threshold if config.threshold is not None else self._calibrate(context)

    def _calibrate(self, context: MethodContext) -> float:
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

    def stage_one(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images on the device, the coarse reconstruction and the stage-1 map M."""
        images, chain = chain_for_batch(
            self.model, batch, self.config.t0, self.stride, self.noise, sampler=self.config.sampler
        )
        coarse = self.model.to_image(chain.run())
        stage_map = self.perceptual.distance_map(coarse, images) * normalised_residual(images, coarse)
        return images, coarse, stage_map

    def resample(self, batch: Batch, images: torch.Tensor, coarse: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """RePaint: regenerate the masked region, keep the input elsewhere; returns [0, 1] images."""
        model, schedule = self.model, self.model.schedule
        random = CaseRandom([f"{case_id}/resample" for case_id in batch.case_ids], batch.seed, model.device)
        shape = images.shape[1:]
        clean = model.to_model_range(images)
        kept = respaced_timesteps(self.config.resample_from - 1, self.stride)
        x_t = schedule.q_sample(model.to_model_range(coarse), kept[0], random.sample(self.noise, shape, kept[0]))
        for t, s in zip(kept, kept[1:] + [-1]):
            for repeat in range(self.config.resample_repeats):
                x0_hat = model.clamp(schedule.x0_from_noise(x_t, t, model.predict(x_t, t)))
                mean, std = schedule.posterior(x0_hat, x_t, t, s)
                if s < 0:
                    unknown, known = mean, clean
                else:
                    unknown = mean + std * random.sample(self.noise, shape, t)
                    known = schedule.q_sample(clean, s, random.sample(self.noise, shape, s))
                x_s = mask * unknown + (1 - mask) * known
                if repeat < self.config.resample_repeats - 1:
                    x_t = schedule.q_jump(x_s, s, t, random.sample(self.noise, shape, t))
            x_t = x_s
        inpainted = model.to_image(x_t)
        return torch.where(mask > 0, inpainted, images)  # exactly the input outside the mask

    def predict(self, batch: Batch) -> Prediction:
        with self.model.metered() as usage:
            images, coarse, stage_map = self.stage_one(batch)
            mask = dilate(stage_map > self.threshold)
            inpainted = self.resample(batch, images, coarse, mask)
        maps = (images - inpainted).abs() * stage_map
        extras = {"stage_one_map": stage_map, "mask": mask, "coarse_reconstruction": coarse}
        return Prediction(maps, inpainted, nfe=usage.calls, network_seconds=usage.seconds, extras=extras)


def create(options: Mapping[str, str], context: MethodContext) -> AutoDDPM:
    return AutoDDPM(build_config(AutoDDPMConfig, options), context)
