"""DAE: the denoising autoencoder of Kascenas et al. (MIDL 2022), the non-diffusion reference.

The network, trained to remove coarse noise from healthy images (`anobench train --scheme dae
--noise coarse`), is applied once to the clean test image: what it changes is what it has not
learnt as healthy. Map, as the released code computes it: |x − x̂| inside the foreground (pixels
above 0.01) eroded by a 5 × 5 window (the share of foreground pixels in the window above 0.95,
which drops the edge of the brain where reconstructions err), then a 5 × 5 median filter with
mirrored borders. x̂ is the network's output as is; the reconstruction the run stores is x̂
clamped to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from anobench.api import Batch, MethodContext, Prediction
from anobench.config import bounded, build_config, to_plain
from anobench.diffusion.coarse_noise import FOREGROUND
from anobench.diffusion.denoiser import load_denoiser
from anobench.errors import AnobenchError

ERODED_SHARE = 0.95  # a pixel stays in the eroded foreground when this share of its window is foreground


@dataclass(frozen=True)
class DAEConfig:
    median: int = bounded(5, 1)  # side of the median filter on the map (1: none)
    erosion: int = bounded(5, 1)  # side of the window eroding the foreground (1: none)


def eroded_foreground(images: torch.Tensor, side: int) -> torch.Tensor:
    """B×1×H×W booleans: foreground pixels whose `side` × `side` window (zero-padded at the image's
    edge) is at least 95 % foreground."""
    foreground = (images > FOREGROUND).float()
    share = F.avg_pool2d(foreground, side, stride=1, padding=side // 2, count_include_pad=True)
    return share > ERODED_SHARE


def median_filtered(maps: np.ndarray, side: int) -> np.ndarray:
    """Each B×1×H×W map median-filtered over `side` × `side` windows, borders mirrored (d c b | a b c d)."""
    if side == 1:
        return maps
    return ndimage.median_filter(maps, size=(1, 1, side, side), mode="mirror")


class DAE:
    def __init__(self, config: DAEConfig, context: MethodContext) -> None:
        if config.median % 2 == 0 or config.erosion % 2 == 0:
            raise AnobenchError(f"median and erosion need odd window sides, got {config.median} and {config.erosion}")
        self.config = config
        self.model, self.checkpoint = load_denoiser(context, "coarse", scheme="dae")

    def settings(self) -> dict[str, Any]:
        return {**to_plain(self.config), "checkpoint": self.checkpoint}

    def predict(self, batch: Batch) -> Prediction:
        model = self.model
        images = batch.images.to(model.device)
        with model.metered() as usage:
            output = model.predict(model.to_model_range(images), 0)
        reconstructed = model.to_unit_range(output)
        residual = (images - reconstructed).abs() * eroded_foreground(images, self.config.erosion)
        maps = median_filtered(residual.cpu().numpy(), self.config.median)
        return Prediction(
            torch.from_numpy(maps), model.to_image(output), nfe=usage.calls, network_seconds=usage.seconds
        )


def create(options: Mapping[str, str], context: MethodContext) -> DAE:
    return DAE(build_config(DAEConfig, options), context)
