"""The contracts between anobench and its plugins.

A method turns a batch of images in [0, 1] into anomaly maps of the same shape; a dataset lists
the case ids of each split, loads a case on demand, and declares how its cases are evaluated. Both
are found through entry points (see `anobench.registry`), built-ins included. Nothing here knows
about any particular method or data set, and importing it does not import torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, Protocol, Sequence

import numpy as np

from anobench.hashing import sha256_json

if TYPE_CHECKING:
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
    do), otherwise everywhere outside the boxes. A slice of a volume says whose (`subject_id`),
    where (`slice_index`: its axial position in the subject's volume, slices of one subject stacking
    back in index order) and which pixels are brain (`brain_mask`, bool H×W), so that the volume
    protocol can rebuild the subject's volume and score it inside the brain."""

    case_id: str
    image: np.ndarray
    mask: np.ndarray | None = None
    subject_id: str | None = None
    boxes: tuple[Box, ...] = ()
    negative_region: np.ndarray | None = None
    slice_index: int | None = None
    brain_mask: np.ndarray | None = None


@dataclass(frozen=True)
class Batch:
    """Images (B×1×H×W in [0, 1]) with the ids that seed each case's own random numbers, and the
    cases' brain masks (B×1×H×W booleans) when the data set gives every one of them."""

    images: torch.Tensor
    case_ids: Sequence[str]
    seed: int
    brain_masks: torch.Tensor | None = None


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


@dataclass(frozen=True)
class Evaluation:
    """How a data set's cases are scored, declared by the data set.

    `protocol`: `pixel` (cases carry lesion masks: Dice per lesion size, AUPRC) or `box` (cases carry
    boxes: the THOR paper's box protocol and FROC). `classes`: the box classes evaluated, in board
    order. `healthy_split`: the healthy cases that calibrate thresholds (a calibrated Dice for
    `pixel`, the operating point of `box`): a split of this data set, or `NAME:SPLIT` of another.
    `volumes`: every case is a slice of a subject's volume (it gives `subject_id`, `slice_index` and
    `brain_mask`), so the volume protocol applies too; `healthy_test_split` then names held-out
    healthy subjects, on which a threshold's false positives are measured. `passes_on`: options of
    this data set that the data set of its healthy splits receives too, when that is another one
    (ATLAS's `z_range`: the healthy IXI subjects are cut into the same slab). `lesion_contrast`: how
    its lesions differ from tissue on the images (`dark`: T1-hypointense stroke; `bright`: T2/FLAIR
    hyperintensities), for methods that read intensities directly (the intensity baseline).
    `modality`: the images' MR contrast (`t1`, `t2`, `flair`, …; None where it does not apply): a
    checkpoint records its training set's, and a run refuses a checkpoint of another. `healthy_options`:
    options the data set of its healthy and training splits always receives from this one (`brats`
    with T2 images gives IXI `modality=t2`), beside those `passes_on` forwards when the user sets them.
    """

    protocol: Literal["pixel", "box"]
    classes: tuple[str, ...] = ()
    healthy_split: str | None = None
    validation_split: str | None = None  # healthy cases a method may tune itself on (AutoDDPM's mask τ)
    training_split: str | None = "train"  # the healthy split a denoiser for this data set trains on (or NAME:SPLIT)
    healthy_test_split: str | None = None  # held-out healthy cases: the false positives a threshold leaves
    volumes: bool = False  # cases are slices of subjects' volumes: subject_id, slice_index and brain_mask given
    passes_on: tuple[str, ...] = ()  # options the data set of its healthy splits receives too
    lesion_contrast: Literal["dark", "bright"] | None = None
    modality: str | None = None
    healthy_options: tuple[tuple[str, str], ...] = ()  # (KEY, VALUE) pairs


class Dataset(Protocol):
    """A prepared data set at one image size.

    Cases are listed by id and loaded one at a time, so a run decodes only what it scores. Opening
    a data set and loading its cases write nothing into the user's data folder. `manifest()` names
    every file the data set reads with its sha256 (`files`, paths relative to its folder) and the
    settings that change what is read (`settings`); options that only change warnings stay out, so
    runs over identical files compare.
    """

    @property
    def splits(self) -> Sequence[str]: ...  # a plain attribute in an implementation

    @property
    def evaluation(self) -> Evaluation: ...

    def case_ids(self, split: str) -> Sequence[str]: ...

    def load_case(self, split: str, case_id: str) -> Case: ...

    def manifest(self) -> dict[str, Any]: ...

    def settings(self) -> dict[str, Any]: ...


def manifest_hash(dataset: Dataset) -> str:
    """sha256 of a data set's manifest: identifies exactly what was read."""
    return sha256_json(dataset.manifest())


def load_cases(dataset: Dataset, split: str, limit: int | None = None) -> list[Case]:
    """The cases of a split, loaded (the first `limit` only when given)."""
    return [dataset.load_case(split, case_id) for case_id in list(dataset.case_ids(split))[:limit]]


@dataclass(frozen=True)
class MethodContext:
    """What the harness knows when it builds a method (`preset` names the model size).

    `healthy_validation(limit)` returns (up to `limit` of) the healthy validation cases the data set
    declares (`Evaluation.validation_split`; `validation_split` names it as NAME:SPLIT) for methods
    that calibrate a setting on them (AutoDDPM's mask threshold); it is only called when needed.
    `precision` (fp32, bf16, fp16: autocast of the network) and `compile` (torch.compile of the
    network) apply to the denoiser a method loads. `training_source` (`NAME:SPLIT`) and `data_root`
    say what a missing checkpoint would be trained on, so that the error can give the command.
    `lesion_contrast` and `modality` are the data set's (`Evaluation`); `training_options` are the
    data options its training source needs (`Evaluation.healthy_options`: `modality=t2`).
    """

    dataset: str
    preset: str
    image_size: int
    device: torch.device
    checkpoint: Path | None = None
    healthy_validation: Callable[[int], Sequence[Case]] | None = None
    validation_split: str | None = None
    seed: int = 0
    precision: str = "fp32"
    compile: bool = False
    training_source: str | None = None
    data_root: Path | None = None
    lesion_contrast: str | None = None
    modality: str | None = None
    training_options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DatasetContext:
    """What the harness knows when it opens a dataset: the image size, and the data set's folder
    (`--data-root`, else `$ANOBENCH_DATA/<name>`; None for data sets that need none)."""

    image_size: int
    data_root: Path | None = None


def deferred_class(target: str) -> Callable[[], type]:
    """The class `module:name`, imported when asked for (a plugin's settings dataclass)."""
    module_name, _, attribute = target.partition(":")
    return lambda: getattr(importlib.import_module(module_name), attribute)


def deferred(target: str) -> Callable[..., Any]:
    """The function `module:name`, imported when first called: a plugin can be declared (and listed)
    without importing torch or its own module."""
    module_name, _, attribute = target.partition(":")

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module_name), attribute)(*args, **kwargs)

    call.__qualname__ = call.__name__ = attribute
    return call


@dataclass(frozen=True)
class MethodPlugin:
    """Entry-point object of group `anobench.methods`."""

    name: str
    description: str
    create: Callable[[Mapping[str, str], MethodContext], Method]
    settings: Callable[[], type] | None = None  # the dataclass of its `--set` settings (`anobench list NAME`)


@dataclass(frozen=True)
class DatasetPlugin:
    """Entry-point object of group `anobench.datasets`."""

    name: str
    description: str
    open: Callable[[Mapping[str, str], DatasetContext], Dataset]
    settings: Callable[[], type] | None = None  # the dataclass of its `--data` options (`anobench list NAME`)
