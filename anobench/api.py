"""The contracts between anobench and its plugins.

A method turns a batch of images in [0, 1] into anomaly maps of the same shape; a dataset yields
cases. Both are found through entry points (see `anobench.registry`), built-ins included. Nothing
here knows about any particular method or data set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np
import torch


@dataclass(frozen=True)
class Box:
    """An annotated box in image pixels: rows [top, bottom) × columns [left, right), with its class."""

    top: int
    left: int
    bottom: int
    right: int
    label: str

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        mask = np.zeros(shape, dtype=bool)
        mask[self.top : self.bottom, self.left : self.right] = True
        return mask


@dataclass(frozen=True)
class Case:
    """One image to score: `image` is float32 H×W in [0, 1]; `mask` (bool H×W) marks the lesion;
    `boxes` are its annotated boxes (localisation data sets); `negative_region` (bool H×W) is where
    anomaly mass counts against the boxes when a data set defines it (the released wrist splits
    do), otherwise everywhere outside the boxes."""

    case_id: str
    image: np.ndarray
    mask: np.ndarray | None = None
    subject_id: str | None = None
    boxes: tuple[Box, ...] = ()
    negative_region: np.ndarray | None = None


@dataclass(frozen=True)
class Batch:
    """Images (B×1×H×W in [0, 1]) with the ids that seed each case's own random numbers."""

    images: torch.Tensor
    case_ids: Sequence[str]
    seed: int


@dataclass
class Prediction:
    """Anomaly maps (B×1×H×W float, higher = more anomalous) and optional extras."""

    maps: torch.Tensor
    reconstructions: torch.Tensor | None = None
    nfe: int = 0  # network function evaluations per image
    network_seconds: float = 0.0  # time spent inside the network for the whole batch
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


class Method(Protocol):
    """What the harness calls. `settings()` is recorded in the run (resolved config, checkpoint)."""

    def predict(self, batch: Batch) -> Prediction: ...

    def settings(self) -> dict[str, Any]: ...


class Dataset(Protocol):
    """A prepared data set at one image size. `manifest_hash` identifies exactly what was read."""

    splits: Sequence[str]

    def cases(self, split: str) -> Sequence[Case]: ...

    def manifest_hash(self) -> str: ...

    def settings(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class MethodContext:
    """What the harness knows when it builds a method (`preset` names the model size).

    `healthy_validation` returns the dataset's healthy validation cases (split `val`) for methods
    that calibrate a setting on them (AutoDDPM's mask threshold); it is only called when needed.
    `precision` (fp32, bf16, fp16: autocast of the network) and `compile` (torch.compile of the
    network) apply to the denoiser a method loads.
    """

    dataset: str
    preset: str
    image_size: int
    device: torch.device
    checkpoint: Path | None = None
    healthy_validation: Callable[[], Sequence[Case]] | None = None
    seed: int = 0
    precision: str = "fp32"
    compile: bool = False


@dataclass(frozen=True)
class DatasetContext:
    """What the harness knows when it opens a dataset."""

    image_size: int
    data_root: Path | None = None


@dataclass(frozen=True)
class MethodPlugin:
    """Entry-point object of group `anobench.methods`."""

    name: str
    description: str
    create: Callable[[Mapping[str, str], MethodContext], Method]


@dataclass(frozen=True)
class DatasetPlugin:
    """Entry-point object of group `anobench.datasets`."""

    name: str
    description: str
    open: Callable[[Mapping[str, str], DatasetContext], Dataset]
