"""atlas: ATLAS 2.0 stroke T1 scans, one mid-axial slice per scan, as the THOR work prepared them.

Two layouts under the data folder (`--data-root`, or `$ANOBENCH_DATA/atlas`):
- `bids`: the ATLAS 2.0 release, `…/sub-r001s001/ses-1/anat/sub-r001s001_ses-1_space-MNI152NLin2009aSym_T1w.nii.gz`
  with `…_label-L_desc-T1lesion_mask.nii.gz` beside it (MNI space, 1 mm, 197×233×189). Slice
  `slice` (95) is taken, divided by its 98th percentile, padded to a square with its minimum and
  resized to 128 (bilinear); the mask goes through the same geometry and is re-binarised; then
  both are resized to the preset's size, as the PNG layout is.
- `png`: the THOR release's pre-made slices: `splits/atlas_train_png.csv` and
  `splits/atlas_train_mask_png.csv` (column `filename`, row-aligned), in the folder or in `ATLAS/`.
Splits: `test` (every scan's slice with its mask) and, for `bids`, `train-healthy` (the slices with
no lesion pixel, which the THOR work added to IXI training: 217 of 655 scans).
The released evaluator left out 20 slices with unannotated hypo-intense artefacts; they are kept
below as data (rows of the released list) and left out of `test` while `exclude_artefacts` is on.
Their rows index the released PNG list, so on the BIDS layout (whose order anobench does not know
to be the same) they are not applied, with a warning.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from anobench.api import Case, DatasetContext, DatasetPlugin
from anobench.config import build_config, to_plain
from anobench.datasets.location import DataSource, dataset_root
from anobench.datasets.nifti import axial_slice, prepared_slice, read_volume
from anobench.datasets.png_slices import PngSliceDataset, SplitFiles
from anobench.errors import AnobenchError
from anobench.hashing import sha256_file, sha256_json
from anobench.imaging import NATIVE_SIZE, prepare_mask, resize_mask

ATLAS = DataSource(
    "atlas",
    "the ATLAS 2.0 release (https://fcon_1000.projects.nitrc.org/indi/retro/atlas.html, data-use agreement)",
    "BIDS sub-*/ses-*/anat/*_T1w.nii.gz with *_label-L_desc-T1lesion_mask.nii.gz beside each, or the THOR "
    "release's splits/atlas_train_png.csv + splits/atlas_train_mask_png.csv",
)
T1_SUFFIX = "_T1w.nii.gz"
MASK_SUFFIX = "_label-L_desc-T1lesion_mask.nii.gz"
PNG_SPLITS = {"test": SplitFiles("splits/atlas_train_png.csv", "splits/atlas_train_mask_png.csv")}

ARTEFACT_ROWS = (100, 105, 112, 121, 186, 189, 210, 214, 345, 382, 424, 425, 434, 435, 441, 462, 464, 472, 478, 504)
ARTEFACT_REASON = "unannotated hypo-intense artefacts (excluded by the THOR release's evaluator)"


@dataclass(frozen=True)
class AtlasConfig:
    layout: Literal["auto", "bids", "png"] = "auto"
    slice: int = 95
    exclude_artefacts: bool = True


def _png_root(root: Path) -> Path | None:
    for candidate in (root, root / "ATLAS"):
        if (candidate / PNG_SPLITS["test"].images).is_file():
            return candidate
    return None


def _scans(root: Path) -> list[tuple[Path, Path]]:
    scans = []
    for image in sorted(root.rglob(f"sub-*{T1_SUFFIX}")):
        mask = image.with_name(image.name.removesuffix(T1_SUFFIX) + MASK_SUFFIX)
        if not mask.is_file():
            raise ATLAS.missing(f"lesion mask {mask} for {image.name} does not exist")
        scans.append((image, mask))
    return scans


def _report(paths: list[Path], what: str, treatment: str) -> None:
    if paths:
        warnings.warn(f"{len(paths)} ATLAS mask(s) {what} (first: {paths[0]}); {treatment}", stacklevel=3)


class AtlasBids:
    """Slices prepared from the BIDS NIfTI files."""

    splits = ("test", "train-healthy")

    def __init__(self, root: Path, config: AtlasConfig, image_size: int) -> None:
        self.root, self.config, self.image_size = root, config, image_size
        self.scans = _scans(root)
        if not self.scans:
            raise ATLAS.missing(f"no *{T1_SUFFIX} files under {root}")
        if config.exclude_artefacts:
            warnings.warn(
                "atlas: the 20 artefact exclusions index the THOR release's PNG list and are not applied "
                "to the BIDS layout (set exclude_artefacts=false to silence this)",
                stacklevel=2,
            )

    @cached_property
    def _prepared(self) -> list[Case]:
        cases, non_binary, empty = [], [], []
        for image_path, mask_path in self.scans:
            volume, mask_volume = read_volume(image_path), read_volume(mask_path)
            if volume.shape != mask_volume.shape:
                raise AnobenchError(f"mask {mask_path} has shape {mask_volume.shape}, image {image_path} has {volume.shape}")
            if not np.isin(mask_volume, (0.0, 1.0)).all():
                non_binary.append(mask_path)
            if not (mask_volume > 0).any():
                empty.append(mask_path)
            mask = prepare_mask(axial_slice(mask_volume > 0, self.config.slice, mask_path), NATIVE_SIZE)
            case_id = image_path.name.split("_space-")[0].removesuffix(T1_SUFFIX)
            cases.append(
                Case(
                    case_id=case_id,
                    image=prepared_slice(volume, self.config.slice, image_path, self.image_size),
                    mask=resize_mask(mask, self.image_size),
                    subject_id=case_id.split("_")[0],
                )
            )
        _report(non_binary, "are not binary", "binarised as mask > 0")
        _report(empty, "are empty", "their scans count as having no lesion")
        return cases

    def cases(self, split: str) -> Sequence[Case]:
        if split == "test":
            return self._prepared
        if split == "train-healthy":
            return [replace(case, mask=None) for case in self._prepared if not case.mask.any()]
        raise AnobenchError(f"unknown split {split!r}; available: {', '.join(self.splits)}")

    def manifest_hash(self) -> str:
        files = {str(path.relative_to(self.root)): sha256_file(path) for pair in self.scans for path in pair}
        return sha256_json({"files": files, "settings": to_plain(self.config)})

    def settings(self) -> dict[str, Any]:
        return {**to_plain(self.config), "root": str(self.root), "layout": "bids", "image_size": self.image_size,
                "artefacts_excluded": 0}


class AtlasPng:
    """The THOR release's PNG slices, with the artefact rows left out of `test` when asked."""

    splits = ("test",)

    def __init__(self, root: Path, config: AtlasConfig, image_size: int) -> None:
        self.config = config
        self.slices = PngSliceDataset(root, PNG_SPLITS, image_size)
        self.excluded = ARTEFACT_ROWS if config.exclude_artefacts else ()

    def cases(self, split: str) -> Sequence[Case]:
        cases = self.slices.cases(split)
        return [case for row, case in enumerate(cases) if row not in self.excluded]

    def manifest_hash(self) -> str:
        return sha256_json({"files": self.slices.manifest_hash(), "excluded_rows": list(self.excluded)})

    def settings(self) -> dict[str, Any]:
        return {**to_plain(self.config), **self.slices.settings(), "layout": "png",
                "artefacts_excluded": len(self.excluded), "artefact_reason": ARTEFACT_REASON}


def open_dataset(options: Mapping[str, str], context: DatasetContext) -> AtlasBids | AtlasPng:
    config = build_config(AtlasConfig, options)
    root = dataset_root(ATLAS, context)
    png_root = _png_root(root)
    if config.layout == "png" or (config.layout == "auto" and png_root is not None):
        if png_root is None:
            raise ATLAS.missing(f"no {PNG_SPLITS['test'].images} in {root} or {root / 'ATLAS'}")
        return AtlasPng(png_root, config, context.image_size)
    return AtlasBids(root, config, context.image_size)


plugin = DatasetPlugin(
    name="atlas",
    description="ATLAS 2.0 stroke T1 (BIDS NIfTI or the THOR release's PNG + CSV), slice 95, real data.",
    open=open_dataset,
)
