"""ixi: healthy IXI scans in MNI space (Clinica t1-linear CAPS layout), one axial slice each.

Layout under the data folder (`--data-root`, or `$ANOBENCH_DATA/ixi`):
`subjects/sub-IXI002/ses-M00/t1_linear/sub-IXI002_ses-M00_T1w_space-MNI152NLin2009cSym_res-1x1x1_T1w.nii.gz`
(the uncropped image is preferred when Clinica also wrote a `desc-Crop` one); `anobench prepare ixi`
writes the same layout from the raw release. IXI also ships T2 and PD scans: `modality=t2` (or `pd`)
reads `t2_linear/*_T2w.nii.gz` (`pd_linear/*_PDw.nii.gz`), which `anobench prepare ixi --modality t2`
writes; the healthy training and calibration set of the T2 and FLAIR test sets (`brats`, `mslub`,
`wmh` pass their modality on).
The slice is the one at the world height of ATLAS's slice 95 (z = 23 mm in the MNI grid the
ATLAS files share with nilearn's MNI152 template), found through each file's affine, so IXI and
ATLAS slices show the same anatomy whatever the grid (`slice_z_mm` to change it); it is cut by
`nifti.axial_slice` (anterior up) and prepared as ATLAS is: 98th-percentile scaling, square
padding with the minimum, resize to 128, then to the preset's size.
Splits `train` / `val` / `test`: a seeded shuffle of the subjects (`split_seed`; 10 % validation,
10 % test, rounded: 465 / 58 / 58 of the 581 scans the THOR work used), made in memory; or the
lists of a shared split (`split_lists=DIR` holding `ixi_train.csv`, `ixi_val.csv`, `ixi_test.csv`,
column `filename`, paths relative to the data folder). Nothing is written into the data folder.
Evaluation: pixel protocol without lesions (IXI is healthy); `val` is the healthy split that
calibrates thresholds, here and for ATLAS (`atlas` declares `ixi:val`).
Volumes: `z_range=A:B` (mm) gives every slice between those world heights of each scan, with its
brain mask (`volume_slabs`; `brain_mask` chooses how), in every split; `test` is then the held-out
healthy subjects of the volume protocol. ATLAS passes its own `z_range` and `brain_mask` on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal, Mapping, NamedTuple, Sequence

import numpy as np

from anobench.api import Case, DatasetContext, Evaluation
from anobench.config import build_config
from anobench.datasets.location import DataSource, dataset_root
from anobench.datasets.nifti import prepared_slice, read_volume_with_affine, slice_index_at
from anobench.datasets.png_slices import read_filename_csv, relative_name, resolve_listed_path
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

IXI = DataSource(
    "ixi",
    "the IXI data set (https://brain-development.org/ixi-dataset/, IXI-T1.tar), registered to MNI space by "
    "Clinica t1-linear or by `anobench prepare ixi RAW_DIR OUT_DIR`",
    "subjects/sub-*/ses-*/t1_linear/*_T1w.nii.gz (Clinica CAPS)",
)
SPLITS = ("train", "val", "test")
ATLAS_SLICE_Z_MM = 23.0  # slice 95 of the 197×233×189 MNI grid, whose z origin is −72 mm
HELD_OUT_FRACTION = 0.1
IXIModality = Literal["t1", "t2", "pd"]


class ModalityNames(NamedTuple):
    raw: str  # in the release's file names: IXI002-Guys-0828-T2.nii.gz
    folder: str  # the CAPS pipeline folder
    suffix: str  # the BIDS suffix


MODALITIES: dict[str, ModalityNames] = {
    "t1": ModalityNames("T1", "t1_linear", "T1w"),
    "t2": ModalityNames("T2", "t2_linear", "T2w"),
    "pd": ModalityNames("PD", "pd_linear", "PDw"),
}
EVALUATION = Evaluation("pixel", healthy_split="val", validation_split="val", lesion_contrast="dark", modality="t1")
VOLUME_EVALUATION = replace(EVALUATION, healthy_test_split="test", volumes=True)


@dataclass(frozen=True)
class IXIConfig:
    slice_z_mm: float = ATLAS_SLICE_Z_MM  # the slice's world height (ATLAS's slice 95)
    split_seed: int = 0  # the seed of the train/val/test split
    split_lists: str | None = None  # a folder of ixi_<split>.csv lists to use instead of the seeded split
    z_range: str | None = None  # A:B world heights (mm): every slice between them, as volumes
    brain_mask: BrainMaskKind = "template"  # template (MNI152 mask ∩ non-zero) or nonzero, for volumes
    modality: IXIModality = "t1"  # t1, t2 or pd: the CAPS folder read (t1_linear, t2_linear, pd_linear)


def caps_pattern(modality: str) -> str:
    names = MODALITIES[modality]
    return f"subjects/sub-*/ses-*/{names.folder}/*_{names.suffix}.nii.gz"


def caps_images(root: Path, modality: str = "t1") -> list[Path]:
    """One image of the modality per subject session, uncropped preferred."""
    chosen: dict[Path, Path] = {}
    for path in sorted(root.glob(caps_pattern(modality))):
        if path.parent not in chosen or "desc-Crop" in chosen[path.parent].name:
            chosen[path.parent] = path
    return list(chosen.values())


def make_splits(images: Sequence[str], seed: int) -> dict[str, list[str]]:
    """Seeded shuffle; 10 % validation and 10 % test (rounded), the rest training."""
    order = np.random.default_rng(seed).permutation(len(images))
    held_out = round(HELD_OUT_FRACTION * len(images))
    shuffled = [images[i] for i in order]
    return {
        "val": sorted(shuffled[:held_out]),
        "test": sorted(shuffled[held_out : 2 * held_out]),
        "train": sorted(shuffled[2 * held_out :]),
    }


def case_id_of(path: Path) -> str:
    return re.split(r"_(?:T1w|T2w|PDw)", path.name)[0]


class IXISlices:
    splits = SPLITS

    def __init__(self, root: Path, config: IXIConfig, image_size: int) -> None:
        self.root, self.config, self.image_size = root, config, image_size
        self.z_range = None if config.z_range is None else parse_z_range(config.z_range)
        base = EVALUATION if self.z_range is None else VOLUME_EVALUATION
        contrast: Literal["dark", "bright"] = "dark" if config.modality == "t1" else "bright"  # the test sets' lesions
        self.evaluation = replace(base, modality=config.modality, lesion_contrast=contrast)
        self._slab = lru_cache(maxsize=KEPT_SLABS)(self._prepared_slab)
        self.list_folder = None if config.split_lists is None else Path(config.split_lists).expanduser().resolve()
        if self.list_folder is None and not caps_images(root, config.modality):
            prepare = (
                ""
                if config.modality == "t1"
                else f" (`anobench prepare ixi` writes them with --modality {config.modality})"
            )
            raise IXI.missing(f"no {caps_pattern(config.modality)} under {root}{prepare}")

    def _list_file(self, split: str) -> Path:
        assert self.list_folder is not None
        return self.list_folder / f"ixi_{split}.csv"

    @cached_property
    def _split_files(self) -> dict[str, list[Path]]:
        if self.list_folder is None:
            images = [str(path.relative_to(self.root)) for path in caps_images(self.root, self.config.modality)]
            named = make_splits(images, self.config.split_seed)
        else:
            named = {split: read_filename_csv(self._list_file(split)) for split in SPLITS}
        return {split: [resolve_listed_path(name, self.root) for name in names] for split, names in named.items()}

    def _files(self, split: str) -> dict[str, Path]:
        if split not in SPLITS:
            raise AnobenchError(f"unknown split {split!r}; available: {', '.join(SPLITS)}")
        return {case_id_of(path): path for path in self._split_files[split]}

    @cached_property
    def _slices(self) -> dict[str, list[int]]:
        """Per scan of every split, its slices in the z-range (from each header)."""
        assert self.z_range is not None
        z_range = self.z_range
        return {
            case_id_of(path): slices_in_range(path, z_range) for paths in self._split_files.values() for path in paths
        }

    def case_ids(self, split: str) -> list[str]:
        files = self._files(split)
        if not files:
            total = sum(len(paths) for paths in self._split_files.values())
            source = (
                f"the lists in {self.list_folder}"
                if self.list_folder
                else (f"{total} scan(s) split 10 % / 10 % / rest (rounded)")
            )
            raise AnobenchError(f"ixi split {split!r} is empty: {source}; add scans or pass --data split_lists=DIR")
        if self.z_range is not None:
            return [slice_case_id(scan, index) for scan in files for index in self._slices[scan]]
        return list(files)

    def _prepared_slab(self, path: Path) -> dict[int, PreparedSlice]:
        return prepare_slab(path, self._slices[case_id_of(path)], self.image_size, self.config.brain_mask)

    def load_case(self, split: str, case_id: str) -> Case:
        if self.z_range is not None:  # checked by its scan and index: splits of volumes are long
            scan, index = scan_and_index(case_id)
            path = self._files(split).get(scan)
            if path is None or index not in self._slices[scan]:
                raise AnobenchError(f"ixi split {split!r} has no case {case_id!r} (z_range={self.config.z_range})")
            prepared = self._slab(path)[index]
            return Case(case_id, prepared.image, None, scan, slice_index=index, brain_mask=prepared.brain)
        path = self._files(split).get(case_id)
        if path is None:
            raise AnobenchError(f"ixi split {split!r} has no case {case_id!r}")
        volume, affine = read_volume_with_affine(path)
        index = slice_index_at(affine, volume.shape, self.config.slice_z_mm)
        return Case(case_id, prepared_slice(volume, index, path, self.image_size), None, case_id.split("_")[0])

    def manifest(self) -> dict[str, Any]:
        files = {
            relative_name(path, self.root): sha256_file(path) for paths in self._split_files.values() for path in paths
        }
        settings: dict[str, Any] = {"slice_z_mm": self.config.slice_z_mm}
        if self.config.modality != "t1":  # T1 manifests keep the settings they had
            settings["modality"] = self.config.modality
        if self.z_range is not None:
            settings |= {"z_range": self.config.z_range, "brain_mask": self.config.brain_mask}
        if self.list_folder is None:
            settings["split_seed"] = self.config.split_seed
        else:
            files |= {relative_name(self._list_file(s), self.root): sha256_file(self._list_file(s)) for s in SPLITS}
        return {"files": dict(sorted(files.items())), "settings": settings}

    def settings(self) -> dict[str, Any]:
        return {
            "slice_z_mm": self.config.slice_z_mm,
            "split_seed": self.config.split_seed,
            "split_lists": str(self.list_folder) if self.list_folder else None,
            "z_range": self.config.z_range,
            "brain_mask": self.config.brain_mask,
            "modality": self.config.modality,
            "root": str(self.root),
            "image_size": self.image_size,
            "split_sizes": {split: len(paths) for split, paths in self._split_files.items()},
        }


def open_dataset(options: Mapping[str, str], context: DatasetContext) -> IXISlices:
    return IXISlices(dataset_root(IXI, context), build_config(IXIConfig, options), context.image_size)
