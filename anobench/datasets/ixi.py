"""ixi: healthy IXI T1 scans in MNI space (Clinica t1-linear CAPS layout), one axial slice each.

Layout under the data folder (`--data-root`, or `$ANOBENCH_DATA/ixi`):
`subjects/sub-IXI002/ses-M00/t1_linear/sub-IXI002_ses-M00_T1w_space-MNI152NLin2009cSym_res-1x1x1_T1w.nii.gz`
(the uncropped image is preferred when Clinica also wrote a `desc-Crop` one).
The slice is the one at the world height of ATLAS's slice 95 (z = 23 mm in the MNI grid the
ATLAS files share with nilearn's MNI152 template), found through each file's affine, so IXI and
ATLAS slices show the same anatomy whatever the grid (`slice_z_mm` to change it). Preparation as
for ATLAS: 98th-percentile scaling, square padding with the minimum, resize to 128, then to the
preset's size.
Splits `train` / `val` / `test`: read from `splits/ixi_<split>.csv` (column `filename`, paths
relative to the data folder) when present, so shared splits are used as they are; otherwise made
by a seeded shuffle of the subjects (10 % validation, 10 % test, rounded: 465 / 58 / 58 of the 581
scans the THOR work used) and written there for sharing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from anobench.api import Case, DatasetContext, DatasetPlugin
from anobench.config import build_config, to_plain
from anobench.datasets.location import DataSource, dataset_root
from anobench.datasets.nifti import prepared_slice, read_volume_with_affine, slice_index_at
from anobench.datasets.png_slices import read_filename_csv, resolve_listed_path, write_filename_csv
from anobench.errors import AnobenchError
from anobench.hashing import sha256_file, sha256_json

IXI = DataSource(
    "ixi",
    "the IXI data set (https://brain-development.org/ixi-dataset/, IXI-T1.tar), registered to MNI space by "
    "Clinica t1-linear or by `anobench prepare ixi RAW_DIR OUT_DIR`",
    "subjects/sub-*/ses-*/t1_linear/*_T1w.nii.gz (Clinica CAPS)",
)
SPLITS = ("train", "val", "test")
ATLAS_SLICE_Z_MM = 23.0  # slice 95 of the 197×233×189 MNI grid, whose z origin is −72 mm
HELD_OUT_FRACTION = 0.1


@dataclass(frozen=True)
class IXIConfig:
    slice_z_mm: float = ATLAS_SLICE_Z_MM
    split_seed: int = 0


def caps_images(root: Path) -> list[Path]:
    """One T1 image per subject session, uncropped preferred."""
    chosen: dict[Path, Path] = {}
    for path in sorted(root.glob("subjects/sub-*/ses-*/t1_linear/*_T1w.nii.gz")):
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


class IXISlices:
    splits = SPLITS

    def __init__(self, root: Path, config: IXIConfig, image_size: int) -> None:
        self.root, self.config, self.image_size = root, config, image_size
        self.split_lists = {split: root / "splits" / f"ixi_{split}.csv" for split in SPLITS}
        if not all(path.is_file() for path in self.split_lists.values()):
            self._write_splits()

    def _write_splits(self) -> None:
        images = [str(path.relative_to(self.root)) for path in caps_images(self.root)]
        if not images:
            raise IXI.missing(f"no subjects/sub-*/ses-*/t1_linear/*_T1w.nii.gz under {self.root}")
        for split, names in make_splits(images, self.config.split_seed).items():
            write_filename_csv(self.split_lists[split], names)

    def _files(self, split: str) -> list[Path]:
        if split not in SPLITS:
            raise AnobenchError(f"unknown split {split!r}; available: {', '.join(SPLITS)}")
        return [resolve_listed_path(name, self.root) for name in read_filename_csv(self.split_lists[split])]

    @cache
    def cases(self, split: str) -> Sequence[Case]:
        cases = []
        for path in self._files(split):
            volume, affine = read_volume_with_affine(path)
            index = slice_index_at(affine, volume.shape, self.config.slice_z_mm)
            case_id = path.name.split("_T1w")[0]
            cases.append(Case(case_id, prepared_slice(volume, index, path, self.image_size), None, case_id.split("_")[0]))
        return cases

    def manifest_hash(self) -> str:
        files = {str(path.relative_to(self.root)): sha256_file(path) for path in self.split_lists.values()}
        for split in SPLITS:
            files.update({str(path.relative_to(self.root)): sha256_file(path) for path in self._files(split)})
        return sha256_json({"files": dict(sorted(files.items())), "settings": to_plain(self.config)})

    def settings(self) -> dict[str, Any]:
        sizes = {split: len(read_filename_csv(path)) for split, path in self.split_lists.items()}
        return {**to_plain(self.config), "root": str(self.root), "image_size": self.image_size, "split_sizes": sizes}


def open_dataset(options: Mapping[str, str], context: DatasetContext) -> IXISlices:
    return IXISlices(dataset_root(IXI, context), build_config(IXIConfig, options), context.image_size)


plugin = DatasetPlugin(
    name="ixi",
    description="IXI T1 in MNI space (Clinica CAPS t1-linear), healthy; the slice at ATLAS's slice 95.",
    open=open_dataset,
)
