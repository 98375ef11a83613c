"""pDDPM (Behrendt et al., MIDL 2023): patched diffusion, one x0 prediction per cell.

Not a sampling chain. For every cell of the patch layout, the image is noised inside that cell
only (to timestep `t`, the rest clean), the network predicts x0 in one call, and the prediction
inside the cell is kept; the cells are stitched into the reconstruction x̂ and map = |x − x̂|.
All cells share the image's one noise field (2-D simplex by default), as in the original.
All cells of all images of a batch go through the network together, `max_batch` images per call:
ceil(cells × images / max_batch) calls per batch; NFE per image = number of cells. The default is
64 images per call on a GPU and 16 on a CPU, where larger calls are slower per image
(`bench/pddpm_calls.py`: 72 images per call took 1.6× as long per image as 8 or 16 here).

Protocol (THOR paper): 128², patch 48 with the edge cells truncated (`stitching=truncate`), test
timestep 500 of the original config (noise index 499), no post-processing. `stitching=cut|avg`
use evenly spread full-size windows instead (see `anobench.diffusion.patches`).
As released (golden test against the official code): the residual is taken of the x0 prediction as
the network gives it, not clamped to [0, 1] (`clamp_reconstruction=true` clamps it first), and the
noise field is rounded to float16 as the release's noise generator returns it (`noise_precision`).
`postprocess=true` adds the original's map post-processing (`anobench.diffusion.postprocessing`:
the brain mask eroded `W // 25` times, a 5×5 median filter; the release removes components of ≤ 7
voxels only from thresholded maps, as the volume board's post-processed table does). The patch size
comes from the checkpoint (pDDPM needs its own patch-trained checkpoint: `anobench train --scheme
patched`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping

import torch

from anobench.api import Batch, MethodContext, Prediction
from anobench.config import bounded, build_config, to_plain
from anobench.diffusion.denoiser import load_denoiser
from anobench.diffusion.noise import CaseRandom, NoisePrecision, in_precision, noise_kind
from anobench.diffusion.patches import PatchLayout, Stitching, patch_layout
from anobench.diffusion.postprocessing import postprocess_maps
from anobench.diffusion.schedule import T_MAX
from anobench.errors import AnobenchError

CPU_MAX_BATCH, GPU_MAX_BATCH = 16, 64


@dataclass(frozen=True)
class PDDPMConfig:
    t: int = bounded(499, 1, T_MAX)  # the timestep each cell is noised to (index 499 as released)
    stitching: Stitching = "truncate"  # truncate (plain grid), cut, avg or cut-release (overlapping windows)
    postprocess: bool = False  # the release's brain mask erosion and 5×5 median
    max_batch: int | None = bounded(None, 1)  # images per network call; None: 16 on a CPU, 64 on a GPU
    noise: Literal["simplex-2d", "simplex", "gaussian"] = "simplex-2d"  # the checkpoint's training noise
    noise_precision: NoisePrecision = "float16"  # float16: the release's noise generator's
    clamp_reconstruction: bool = False  # true: the residual of the prediction clamped to [0, 1] (not released)


def stitch(predictions: torch.Tensor, layout: PatchLayout) -> torch.Tensor:
    """B×K×H×W predictions (one per window) → B×1×H×W by the layout's weights."""
    return torch.einsum("bkhw,khw->bhw", predictions, layout.weights.to(predictions))[:, None]


class PDDPM:
    def __init__(self, config: PDDPMConfig, context: MethodContext) -> None:
        if config.max_batch is not None and config.max_batch < 1:
            raise AnobenchError(f"max_batch must be at least 1, got {config.max_batch}")
        self.model, self.checkpoint = load_denoiser(context, config.noise, scheme="patched")
        if not 0 <= config.t < self.model.schedule.num_train_timesteps:
            raise AnobenchError(f"t must be in 0..{self.model.schedule.num_train_timesteps - 1}, got {config.t}")
        size = self.model.preset.image_size
        assert self.model.patch_size is not None  # load_denoiser(scheme="patched") guarantees it
        self.layout = patch_layout(size, size, self.model.patch_size, config.stitching)
        self.windows = self.layout.window_masks().to(self.model.device)
        self.config = config
        default_batch = CPU_MAX_BATCH if context.device.type == "cpu" else GPU_MAX_BATCH
        self.max_batch = default_batch if config.max_batch is None else config.max_batch
        self.noise = noise_kind(config.noise)

    def settings(self) -> dict[str, Any]:
        departures = [
            *(["clamped"] if self.config.clamp_reconstruction else []),
            *(["float32 noise"] if self.config.noise_precision == "float32" else []),
        ]
        return {
            **to_plain(self.config),
            **({"variant": ", ".join(departures)} if departures else {}),
            "max_batch": self.max_batch,
            "patch_size": self.model.patch_size,
            "cells": self.layout.count,
            "checkpoint": self.checkpoint,
        }

    def reconstruct(self, batch: Batch) -> torch.Tensor:
        """The stitched x0 predictions of every cell, in [0, 1] units but not clamped (the release
        scores the prediction as the network gives it)."""
        model, layout = self.model, self.layout
        images = batch.images.to(model.device)
        clean = model.to_model_range(images)
        random = CaseRandom(batch.case_ids, batch.seed, model.device)
        noise = in_precision(random.sample(self.noise, images.shape[1:], self.config.t), self.config.noise_precision)
        noisy = model.schedule.q_sample(clean, self.config.t, noise)
        count = images.shape[0] * layout.count
        predictions = torch.empty(count, *images.shape[1:], device=model.device)
        for first in range(0, count, self.max_batch):
            pairs = torch.arange(first, min(first + self.max_batch, count), device=model.device)
            image_index, window_index = pairs // layout.count, pairs % layout.count
            inputs = torch.where(self.windows[window_index][:, None], noisy[image_index], clean[image_index])
            predictions[first : first + len(pairs)] = model.predict(inputs, self.config.t)
        stitched = stitch(predictions.view(images.shape[0], layout.count, *images.shape[2:]), layout)
        return model.to_unit_range(stitched)

    def predict(self, batch: Batch) -> Prediction:
        with self.model.metered() as usage:
            reconstructions = self.reconstruct(batch)
        images = batch.images.to(reconstructions.device)
        clamped = reconstructions.clamp(0.0, 1.0)
        maps = (images - (clamped if self.config.clamp_reconstruction else reconstructions)).abs()
        if self.config.postprocess:
            brains = None if batch.brain_masks is None else batch.brain_masks.to(maps.device)
            maps = postprocess_maps(maps, images, brains)
        return Prediction(maps, clamped, nfe=self.layout.count, network_seconds=usage.seconds)


def create(options: Mapping[str, str], context: MethodContext) -> PDDPM:
    return PDDPM(build_config(PDDPMConfig, options), context)
