"""atlas: ATLAS 2.0 stroke T1 scans, one mid-axial slice per scan, as the THOR work prepared them.

Two layouts under the data folder (`--data-root`, or `$ANOBENCH_DATA/atlas`):
- `bids`: the ATLAS 2.0 release as it unpacks (`ATLAS_2/`): `Training/R001/sub-r001s001/ses-1/anat/`
  holds `sub-r001s001_ses-1_space-MNI152NLin2009aSym_T1w.nii.gz` with
  `…_label-L_desc-T1lesion_mask.nii.gz` beside it (MNI space, 1 mm, 197×233×189); `Testing/` holds
  T1 scans whose masks the release withholds. Every labelled scan below the folder is evaluated
  (point `--data-root` at `ATLAS_2`, or at `Training/`); scans without a mask are skipped and counted.
  Slice `slice` (95) is cut (`nifti.axial_slice`: anterior up), divided by its 98th percentile,
  padded to a square with its minimum and resized to 128 (bilinear); the mask goes through the
  same geometry and is re-binarised; then both are resized to the preset's size, as the PNG layout is.
- `png`: the THOR release's pre-made slices: `splits/atlas_train_png.csv` and
  `splits/atlas_train_mask_png.csv` (column `filename`, row-aligned), in the folder or in `ATLAS/`.
Splits: `test` (every labelled scan's slice with its mask) and, for `bids`, `train-healthy` (the
scans whose slice has no lesion voxel, which the THOR work added to IXI training: 217 of 655).
Volumes (`bids` only): `z_range=A:B` scores every slice between world heights A and B mm of each
scan instead (`volume_slabs`: case `<scan>_z<index>`, its brain mask beside it; `brain_mask`
chooses how), declares volumes for the volume protocol, and passes `z_range` and `brain_mask` on to
IXI, whose `val` calibrates and whose `test` holds the healthy subjects left out
(`--healthy-split auto` scores both). `train-healthy` stays the THOR slices.
Evaluation: pixel protocol; thresholds are calibrated on IXI's healthy validation slices
(`--healthy-split auto` scores `ixi:val`, which needs the IXI folder: `--data-root ixi=DIR`).
The released evaluator left out 20 slices with unannotated hypo-intense artefacts; they are kept
below as data (rows of the released list) and left out of `test` while `exclude_artefacts` is on.
Their rows index the released PNG list, so on the BIDS layout (whose order anobench does not know
to be the same) they are not applied, with a warning.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal, Mapping

import numpy as np

from anobench.api import Case, DatasetContext, Evaluation
from anobench.config import build_config, to_plain
from anobench.datasets.location import DataSource, dataset_root
from anobench.datasets.nifti import axial_slice, read_volume
from anobench.datasets.png_slices import PngSliceDataset, SplitFiles
from anobench.datasets.volume_slabs import (
    KEPT_SLABS,
    BrainMaskKind,
    PreparedSlice,
    parse_z_range,
    prepare_slab,
    scan_and_index,
    slice_case_id,
    slices_in_range,
)
from anobench.errors import AnobenchError
from anobench.hashing import sha256_file
from anobench.imaging import NATIVE_SIZE, prepare_for_preset, prepare_mask, resize_mask

ATLAS = DataSource(
    "atlas",
    "the ATLAS 2.0 release (https://fcon_1000.projects.nitrc.org/indi/retro/atlas.html, data-use agreement)",
    "ATLAS_2/Training/R*/sub-*/ses-*/anat/*_T1w.nii.gz with *_label-L_desc-T1lesion_mask.nii.gz beside each, or "
    "the THOR release's splits/atlas_train_png.csv + splits/atlas_train_mask_png.csv",
)
T1_SUFFIX = "_T1w.nii.gz"
MASK_SUFFIX = "_label-L_desc-T1lesion_mask.nii.gz"
PNG_SPLITS = {"test": SplitFiles("splits/atlas_train_png.csv", "splits/atlas_train_mask_png.csv")}
EVALUATION = Evaluation(
    "pixel",
    healthy_split="ixi:val",
    validation_split="ixi:val",
    training_split="train-healthy",
    lesion_contrast="dark",
    modality="t1",
)
VOLUME_EVALUATION = replace(
    EVALUATION, healthy_test_split="ixi:test", volumes=True, passes_on=("z_range", "brain_mask")
)
WITHHELD_FOLDER = "Testing"  # the release's folder of scans without published masks

ARTEFACT_ROWS = (100, 105, 112, 121, 186, 189, 210, 214, 345, 382, 424, 425, 434, 435, 441, 462, 464, 472, 478, 504)
ARTEFACT_REASON = "unannotated hypo-intense artefacts (excluded by the THOR release's evaluator)"


@dataclass(frozen=True)
class AtlasConfig:
    layout: Literal["auto", "bids", "png"] = "auto"  # bids (the release) or png (the THOR work's slices)
    slice: int = 95  # the axial slice scored per scan (95: the THOR work's)
    exclude_artefacts: bool = True  # leave out the scans the THOR work excluded
    z_range: str | None = None  # A:B world heights (mm): every slice between them, as volumes
    brain_mask: BrainMaskKind = "template"  # template (MNI152 mask ∩ non-zero) or nonzero, for volumes


def _png_root(root: Path) -> Path | None:
    for candidate in (root, root / "ATLAS"):
        if (candidate / PNG_SPLITS["test"].images).is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Scan:
    image: Path
    mask: Path

    @property
    def case_id(self) -> str:
        return self.image.name.split("_space-")[0].removesuffix(T1_SUFFIX)


def labelled_scans(root: Path) -> tuple[list[Scan], int]:
    """The T1 scans below `root` that have their lesion mask beside them, and how many have none;
    those are skipped with one warning (the release withholds the masks of `Testing/`)."""
    scans, unlabelled = [], []
    for image in sorted(root.rglob(f"sub-*{T1_SUFFIX}")):
        mask = image.with_name(image.name.removesuffix(T1_SUFFIX) + MASK_SUFFIX)
        if mask.is_file():
            scans.append(Scan(image, mask))
        else:
            unlabelled.append(image)
    if not scans:
        found = f"; the {len(unlabelled)} T1 scan(s) found have no lesion mask" if unlabelled else ""
        raise ATLAS.missing(f"no labelled scan (*{T1_SUFFIX} with its *{MASK_SUFFIX}) under {root}{found}")
    if unlabelled:
        withheld = [image for image in unlabelled if WITHHELD_FOLDER in image.relative_to(root).parts]
        others = [image for image in unlabelled if image not in withheld]
        reasons = [f"{len(withheld)} in {WITHHELD_FOLDER}/, whose masks the release withholds"] if withheld else []
        reasons += [f"{len(others)} elsewhere, first {others[0]}"] if others else []
        warnings.warn(
            f"atlas: {len(unlabelled)} T1 scan(s) without a lesion mask skipped ({'; '.join(reasons)}); "
            f"{len(scans)} labelled scan(s) evaluated",
            stacklevel=3,
        )
    return scans, len(unlabelled)


class AtlasBids:
    """Slices prepared from the BIDS NIfTI files, one scan at a time."""

    splits = ("test", "train-healthy")

    def __init__(self, root: Path, config: AtlasConfig, image_size: int) -> None:
        self.root, self.config, self.image_size = root, config, image_size
        scans, self.unlabelled_skipped = labelled_scans(root)
        self.scans = {scan.case_id: scan for scan in scans}
        self._reported: set[str] = set()
        self.z_range = None if config.z_range is None else parse_z_range(config.z_range)
        self.evaluation = EVALUATION if self.z_range is None else VOLUME_EVALUATION
        self._slab = lru_cache(maxsize=KEPT_SLABS)(self._prepared_slab)
        if config.exclude_artefacts:
            warnings.warn(
                "atlas: the 20 artefact exclusions index the THOR release's PNG list and are not applied "
                "to the BIDS layout (--data exclude_artefacts=false silences this)",
                stacklevel=2,
            )

    @cached_property
    def _lesion_free(self) -> list[str]:
        """Scans whose slice has no lesion voxel (reads every mask once, when first asked)."""
        return [
            case_id
            for case_id, scan in self.scans.items()
            if not axial_slice(read_volume(scan.mask) > 0, self.config.slice, scan.mask).any()
        ]

    @cached_property
    def _slices(self) -> dict[str, list[int]]:
        """Per scan, its slices in the z-range (from each header)."""
        assert self.z_range is not None
        return {case_id: slices_in_range(scan.image, self.z_range) for case_id, scan in self.scans.items()}

    def case_ids(self, split: str) -> list[str]:
        if split == "test" and self.z_range is not None:
            return [slice_case_id(scan, index) for scan, indices in self._slices.items() for index in indices]
        if split == "test":
            return list(self.scans)
        if split == "train-healthy":
            return self._lesion_free
        raise AnobenchError(f"unknown split {split!r}; available: {', '.join(self.splits)}")

    def _report_once(self, kind: str, path: Path, treatment: str) -> None:
        if kind not in self._reported:
            self._reported.add(kind)
            warnings.warn(f"atlas: {kind} (first: {path}); {treatment}", stacklevel=3)

    def _lesion_volume(self, scan: Scan, shape: tuple[int, ...]) -> np.ndarray:
        mask_volume = read_volume(scan.mask)
        if mask_volume.shape != shape:
            raise AnobenchError(f"mask {scan.mask} has shape {mask_volume.shape}, image {scan.image} has {shape}")
        if not np.isin(mask_volume, (0.0, 1.0)).all():
            self._report_once("lesion masks that are not binary", scan.mask, "binarised as mask > 0")
        if not (mask_volume > 0).any():
            self._report_once("empty lesion masks", scan.mask, "their scans count as having no lesion")
        return mask_volume > 0

    def _prepared_slab(self, scan_id: str) -> dict[int, PreparedSlice]:
        scan = self.scans[scan_id]
        return prepare_slab(
            scan.image,
            self._slices[scan_id],
            self.image_size,
            self.config.brain_mask,
            lambda shape: self._lesion_volume(scan, shape),
        )

    def _volume_case(self, case_id: str) -> Case:
        scan_id, index = scan_and_index(case_id)
        if index not in self._slices.get(scan_id, ()):
            raise AnobenchError(f"atlas split 'test' has no case {case_id!r} (z_range={self.config.z_range})")
        prepared = self._slab(scan_id)[index]
        return Case(case_id, prepared.image, prepared.lesion, scan_id, slice_index=index, brain_mask=prepared.brain)

    def load_case(self, split: str, case_id: str) -> Case:
        if split == "test" and self.z_range is not None:
            return self._volume_case(case_id)  # checked by its scan and index: splits of volumes are long
        if case_id not in self.case_ids(split):
            raise AnobenchError(f"atlas split {split!r} has no case {case_id!r}")
        scan = self.scans[case_id]
        volume = read_volume(scan.image)
        mask_volume = self._lesion_volume(scan, volume.shape)
        image = prepare_for_preset(axial_slice(volume, self.config.slice, scan.image), self.image_size)
        if split == "train-healthy":
            return Case(case_id, image, None, case_id.split("_")[0])
        mask = prepare_mask(axial_slice(mask_volume, self.config.slice, scan.mask), NATIVE_SIZE)
        return Case(case_id, image, resize_mask(mask, self.image_size), case_id.split("_")[0])

    def manifest(self) -> dict[str, Any]:
        files = {
            str(path.relative_to(self.root)): sha256_file(path)
            for scan in self.scans.values()
            for path in (scan.image, scan.mask)
        }
        settings: dict[str, Any] = {"slice": self.config.slice}
        if self.z_range is not None:
            settings |= {"z_range": self.config.z_range, "brain_mask": self.config.brain_mask}
        return {"files": dict(sorted(files.items())), "settings": settings}

    def settings(self) -> dict[str, Any]:
        return {
            **to_plain(self.config),
            "root": str(self.root),
            "layout": "bids",
            "image_size": self.image_size,
            "artefacts_excluded": 0,
            "labelled_scans": len(self.scans),
            "unlabelled_scans_skipped": self.unlabelled_skipped,
        }


class AtlasPng:
    """The THOR release's PNG slices, with the artefact rows left out of `test` when asked."""

    splits = ("test",)
    evaluation = replace(EVALUATION, training_split=None)  # the released list holds the test slices only

    def __init__(self, root: Path, config: AtlasConfig, image_size: int) -> None:
        if config.z_range is not None:
            raise AnobenchError(
                f"atlas: z_range needs the BIDS layout (the THOR release's PNG list in {root} holds one slice per "
                "scan); point --data-root at ATLAS_2 with --data layout=bids"
            )
        self.config = config
        self.slices = PngSliceDataset(root, PNG_SPLITS, image_size, self.evaluation)
        self.excluded = ARTEFACT_ROWS if config.exclude_artefacts else ()

    def case_ids(self, split: str) -> list[str]:
        return [case_id for row, case_id in enumerate(self.slices.case_ids(split)) if row not in self.excluded]

    def load_case(self, split: str, case_id: str) -> Case:
        return self.slices.load_case(split, case_id)

    def manifest(self) -> dict[str, Any]:
        return {**self.slices.manifest(), "settings": {"excluded_rows": list(self.excluded)}}

    def settings(self) -> dict[str, Any]:
        return {
            **to_plain(self.config),
            **self.slices.settings(),
            "layout": "png",
            "artefacts_excluded": len(self.excluded),
            "artefact_reason": ARTEFACT_REASON,
        }


def open_dataset(options: Mapping[str, str], context: DatasetContext) -> AtlasBids | AtlasPng:
    config = build_config(AtlasConfig, options)
    root = dataset_root(ATLAS, context)
    png_root = _png_root(root)
    if config.layout == "png" or (config.layout == "auto" and png_root is not None):
        if png_root is None:
            raise ATLAS.missing(f"no {PNG_SPLITS['test'].images} in {root} or {root / 'ATLAS'}")
        return AtlasPng(png_root, config, context.image_size)
    return AtlasBids(root, config, context.image_size)
