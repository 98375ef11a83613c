"""`example-residual`: the anomaly map is how far each pixel lies from a smoothed copy of its image.

Not a diffusion model: a baseline small enough to read in one go, showing every part of the method
contract (options checked by name, settings recorded, maps shaped like the images, user errors as
`AnobenchError`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from anobench.api import Batch, MethodContext, Prediction
from anobench.config import bounded, build_config
from anobench.errors import AnobenchError


@dataclass(frozen=True)
class ResidualConfig:
    window: int = bounded(5, 1)  # side of the mean filter, in pixels (odd)


class Residual:
    def __init__(self, config: ResidualConfig, device: torch.device) -> None:
        if config.window % 2 == 0:
            raise AnobenchError(f"setting window={config.window}: must be odd")  # a user error: one line, exit 2
        self.config, self.device = config, device

    def predict(self, batch: Batch) -> Prediction:
        images = batch.images.to(self.device)  # B×1×H×W in [0, 1]
        started = time.perf_counter()
        side = self.config.window
        smoothed = F.avg_pool2d(F.pad(images, [side // 2] * 4, mode="replicate"), side, stride=1)
        maps = (images - smoothed).abs()  # same shape as the images: higher = more anomalous
        return Prediction(maps=maps, reconstructions=smoothed, nfe=0, network_seconds=time.perf_counter() - started)

    def settings(self) -> dict[str, Any]:
        return asdict(self.config)  # recorded in the run's config.json; tells board rows apart


def create(options: Mapping[str, str], context: MethodContext) -> Residual:
    return Residual(build_config(ResidualConfig, options), context.device)
