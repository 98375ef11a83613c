"""brats, mslub, wmh: the field's other pathologies, read from the folder `anobench prepare NAME` wrote.

The release is registered to MNI space first (`lesion_prepare`: one modality per folder, recorded in
its `anobench-prepared.json`); the data set then reads that folder (`--data-root`, or
`$ANOBENCH_DATA/<name>`) and never writes into it. One split, `test`: every subject. As ATLAS and
IXI: the slice at world height `slice_z_mm` (ATLAS's slice 95) per subject, prepared as THOR
prepares one (98th percentile, square padding, 128 px, then the preset's size); or, with
`z_range=A:B`, every slice between those heights as volumes with brain masks, for the volume
protocol (WMH's excluded voxels leave the brain mask there; the slice protocol has no brain mask and
counts them as background).

Healthy reference: IXI of the same contrast (`ixi:val` calibrates, `ixi:test` holds the healthy
subjects of the volume protocol, a denoiser trains on `ixi:train`), given `modality=t2` (or `t1`)
whatever the user passes; `z_range` and `brain_mask` are passed on too. FLAIR and post-contrast T1
have no IXI counterpart: such runs need `--checkpoint FILE` and `--healthy-split NAME:SPLIT` of
healthy scans of that contrast.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from anobench.api import Case, DatasetContext, Evaluation
from anobench.config import build_config
from anobench.datasets.ixi import ATLAS_SLICE_Z_MM
from anobench.datasets.lesion_prepare import COMPARED, PREPARED, PreparedFiles, prepared_files
from anobench.datasets.lesion_releases import Release, release
from anobench.datasets.location import dataset_root
from anobench.datasets.nifti import axial_slice, read_volume, read_volume_with_affine, slice_index_at
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

SPLITS = ("test",)


@dataclass(frozen=True)
class LesionScansConfig:
    modality: str | None = None  # the prepared folder's (checked when given): t1, t1ce, t2 or flair
    slice_z_mm: float = ATLAS_SLICE_Z_MM  # the slice's world height (ATLAS's slice 95)
    z_range: str | None = None  # A:B world heights (mm): every slice between them, as volumes
    brain_mask: BrainMaskKind = "template"  # template (MNI152 mask ∩ non-zero) or nonzero, for volumes


def read_description(root: Path, of: Release) -> dict[str, Any]:
    path = root / PREPARED
    if not path.is_file():
        raise of.source.missing(
            f"no {PREPARED} in {root}: the release is read once registered to MNI space by "
            f"`anobench prepare {of.name}` (the unpacked release, then this folder as OUT_DIR)"
        )
    description = json.loads(path.read_text())
    if description.get("release") != of.name:
        raise AnobenchError(
            f"{root} holds {description.get('release')} scans (see {PREPARED}), not {of.name}; "
            f"use --dataset {description.get('release')} or point --data-root at the {of.name} folder"
        )
    return description


class LesionScans:
    splits = SPLITS

    def __init__(self, root: Path, of: Release, config: LesionScansConfig, image_size: int) -> None:
        self.root, self.release, self.config, self.image_size = root, of, config, image_size
        self.description = read_description(root, of)
        self.modality_name = self.description["modality"]
        if config.modality is not None and config.modality != self.modality_name:
            command = shlex.join(
                ["anobench", "prepare", of.name, str(self.description.get("source", "RAW_DIR")),
                 f"{root}-{config.modality}", "--modality", config.modality]
            )  # fmt: skip
            raise AnobenchError(
                f"{root} holds {of.name} {self.modality_name} images; {config.modality} ones are prepared into "
                f"another folder: `{command}`"
            )
        self.modality = of.modality(self.modality_name)
        self.z_range = None if config.z_range is None else parse_z_range(config.z_range)
        self._slab = lru_cache(maxsize=KEPT_SLABS)(self._prepared_slab)
        if not self.subjects:
            raise of.source.missing(f"no prepared subject in {root} (interrupted? run `anobench prepare` again)")

    @cached_property
    def evaluation(self) -> Evaluation:
        healthy = self.modality.healthy  # IXI's modality of this contrast, if IXI has one
        volumes = self.z_range is not None
        return Evaluation(
            "pixel",
            healthy_split="ixi:val" if healthy else None,
            validation_split="ixi:val" if healthy else None,
            training_split="ixi:train" if healthy else None,
            healthy_test_split="ixi:test" if healthy and volumes else None,
            volumes=volumes,
            passes_on=("z_range", "brain_mask", "slice_z_mm"),
            lesion_contrast=self.modality.contrast,
            modality=self.modality_name,
            healthy_options=(("modality", healthy),) if healthy else (),
        )

    @cached_property
    def subjects(self) -> dict[str, PreparedFiles]:
        """The subjects whose preparation finished (their image is written last)."""
        found = {}
        for folder in sorted(path for path in self.root.iterdir() if path.is_dir() and not path.name.startswith(".")):
            files = prepared_files(self.root, folder.name, self.modality, self.release)
            if files.complete():
                found[folder.name] = files
        return found

    @cached_property
    def _slices(self) -> dict[str, list[int]]:
        assert self.z_range is not None
        z_range = self.z_range
        return {subject: slices_in_range(files.image, z_range) for subject, files in self.subjects.items()}

    def case_ids(self, split: str) -> list[str]:
        if split not in SPLITS:
            raise AnobenchError(f"unknown split {split!r} of {self.release.name}; available: test")
        if self.z_range is not None:
            return [slice_case_id(subject, index) for subject, indices in self._slices.items() for index in indices]
        return list(self.subjects)

    def _mask_volume(self, path: Path, shape: tuple[int, ...]) -> np.ndarray:
        mask = read_volume(path)
        if mask.shape != shape:
            raise AnobenchError(f"{path} has shape {mask.shape}, its image has {shape}")
        return mask > 0

    def _prepared_slab(self, subject: str) -> dict[int, PreparedSlice]:
        files = self.subjects[subject]
        excluded = files.excluded
        return prepare_slab(
            files.image,
            self._slices[subject],
            self.image_size,
            self.config.brain_mask,
            lambda shape: self._mask_volume(files.lesion, shape),
            None if excluded is None else lambda shape: self._mask_volume(excluded, shape),
        )

    def load_case(self, split: str, case_id: str) -> Case:
        if split not in SPLITS:
            raise AnobenchError(f"unknown split {split!r} of {self.release.name}; available: test")
        if self.z_range is not None:
            subject, index = scan_and_index(case_id)
            if index not in self._slices.get(subject, ()):
                raise AnobenchError(f"{self.release.name} has no case {case_id!r} (z_range={self.config.z_range})")
            prepared = self._slab(subject)[index]
            return Case(case_id, prepared.image, prepared.lesion, subject, slice_index=index, brain_mask=prepared.brain)
        files = self.subjects.get(case_id)
        if files is None:
            raise AnobenchError(f"{self.release.name} has no case {case_id!r}")
        volume, affine = read_volume_with_affine(files.image)
        index = slice_index_at(affine, volume.shape, self.config.slice_z_mm)
        lesion = axial_slice(self._mask_volume(files.lesion, volume.shape), index, files.lesion)
        image = prepare_for_preset(axial_slice(volume, index, files.image), self.image_size)
        return Case(case_id, image, resize_mask(prepare_mask(lesion, NATIVE_SIZE), self.image_size), case_id)

    def manifest(self) -> dict[str, Any]:
        files = {
            str(path.relative_to(self.root)): sha256_file(path)
            for prepared in self.subjects.values()
            for path in (prepared.image, prepared.lesion, prepared.excluded)
            if path is not None
        }
        settings: dict[str, Any] = {"modality": self.modality_name, "slice_z_mm": self.config.slice_z_mm}
        if self.z_range is not None:
            settings |= {"z_range": self.config.z_range, "brain_mask": self.config.brain_mask}
        prepared = {key: self.description.get(key) for key in COMPARED}  # not its source folder: the data, not where
        return {"files": dict(sorted(files.items())), "settings": settings, "prepared": prepared}

    def settings(self) -> dict[str, Any]:
        return {
            "modality": self.modality_name,
            "slice_z_mm": self.config.slice_z_mm,
            "z_range": self.config.z_range,
            "brain_mask": self.config.brain_mask,
            "root": str(self.root),
            "image_size": self.image_size,
            "subjects": len(self.subjects),
            "prepared": self.description,
        }


def _opener(name: str):
    def open_dataset(options: Mapping[str, str], context: DatasetContext) -> LesionScans:
        of = release(name)
        return LesionScans(
            dataset_root(of.source, context), of, build_config(LesionScansConfig, options), context.image_size
        )

    return open_dataset


open_brats = _opener("brats")
open_mslub = _opener("mslub")
open_wmh = _opener("wmh")
