"""The field's other brain pathologies as their releases unpack: BraTS 2021, MSLUB and WMH 2017.

Each release is read where the user unpacked it (`anobench prepare NAME RAW_DIR OUT_DIR`, which
registers it to MNI space; `lesion_scans` then reads OUT_DIR):
- `brats`, BraTS 2021 Task 1 (gliomas): `BraTS2021_00000/BraTS2021_00000_{t1,t1ce,t2,flair,seg}.nii.gz`,
  one folder per subject anywhere below RAW_DIR (the archive's `RSNA_ASNR_MICCAI_BraTS2021_TrainingData_…/`
  or its Kaggle copy); skull-stripped, SRI24 space, 1 mm, 240×240×155. Lesion: the whole tumour,
  `seg > 0` (labels 1, 2, 4).
- `mslub`, the Ljubljana MS database (Lesjak et al. 2018): `patient01/{T1W,T1WKS,T2W,FLAIR,consensus_gt}.nii.gz`
  per patient, with `brainmask.nii.gz` in its co-registered set (images co-registered to the FLAIR, on
  whose grid the consensus masks were drawn); the brain mask strips the skull where it is given.
  Lesion: `consensus_gt > 0`.
- `wmh`, the WMH Segmentation Challenge 2017: `<site>/<subject>/pre/{FLAIR,T1}.nii.gz` with
  `<site>/<subject>/wmh.nii.gz` (`training/Utrecht/0/…`, `training/Amsterdam/GE3T/100/…` in the
  public release); not skull-stripped. Lesion: label 1; label 2 ("other pathology") is excluded from
  evaluation as the challenge does (its voxels leave the brain mask).

`MODALITIES` gives, per release and modality, the file read, the lesions' contrast and the IXI
modality that is the healthy reference (None where IXI has none: FLAIR, post-contrast T1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from anobench.datasets.location import DataSource
from anobench.errors import AnobenchError

Contrast = Literal["dark", "bright"]


@dataclass(frozen=True)
class Modality:
    file: str  # the release's name for it, as its files spell it
    suffix: str  # the prepared file's suffix
    contrast: Contrast  # how the release's lesions look on it
    healthy: str | None  # IXI's modality of the same contrast (the healthy reference), if IXI has one


@dataclass(frozen=True)
class RawScan:
    """One subject of a release: its image of the chosen modality, its label map and, where the
    release gives one, its brain mask on the same grid."""

    subject: str
    image: Path
    labels: Path
    brain_mask: Path | None = None


@dataclass(frozen=True)
class Release:
    name: str
    source: DataSource
    modalities: dict[str, Modality]
    default_modality: str
    skull_stripped: bool  # the release's images are skull-stripped already
    label_values: frozenset[int]  # every value its label maps may hold
    lesion_labels: frozenset[int]  # the labels that are lesion
    excluded_label: int | None  # voxels left out of evaluation (WMH's "other pathology")
    find: Callable[[Path, Modality], list[RawScan]]

    def modality(self, name: str) -> Modality:
        if name not in self.modalities:
            raise AnobenchError(f"{self.name} has no modality {name!r}; one of {', '.join(self.modalities)}")
        return self.modalities[name]


def _required(path: Path, what: str) -> Path:
    if not path.is_file():
        raise AnobenchError(f"{what}: {path} is missing")
    return path


def _subject_folders(root: Path, pattern: re.Pattern[str], release: DataSource) -> list[Path]:
    if not root.is_dir():
        raise release.missing(f"folder {root} does not exist")
    folders = sorted(path for path in root.rglob("*") if path.is_dir() and pattern.fullmatch(path.name))
    if not folders:
        raise release.missing(f"no subject folder below {root}")
    return folders


BRATS_SUBJECT = re.compile(r"BraTS2021_\d{5}")


def _brats_scans(root: Path, modality: Modality) -> list[RawScan]:
    scans = []
    for folder in _subject_folders(root, BRATS_SUBJECT, BRATS_SOURCE):
        subject = folder.name
        scans.append(
            RawScan(
                subject,
                _required(
                    folder / f"{subject}_{modality.file}.nii.gz", f"brats subject {subject} lacks its {modality.file}"
                ),
                _required(folder / f"{subject}_seg.nii.gz", f"brats subject {subject} lacks its segmentation"),
            )
        )
    return scans


MSLUB_PATIENT = re.compile(r"patient\d+")


def _mslub_scans(root: Path, modality: Modality) -> list[RawScan]:
    folders = _subject_folders(root, MSLUB_PATIENT, MSLUB_SOURCE)
    seen: dict[str, Path] = {}
    for folder in folders:
        if folder.name in seen:
            raise AnobenchError(
                f"mslub: {folder.name} is both in {seen[folder.name].parent} and {folder.parent}; point RAW_DIR at one "
                "set (the co-registered one: its images share the grid the consensus masks were drawn on)"
            )
        seen[folder.name] = folder
    scans = []
    for folder in folders:
        mask = folder / "brainmask.nii.gz"
        scans.append(
            RawScan(
                folder.name,
                _required(folder / f"{modality.file}.nii.gz", f"mslub {folder.name} lacks its {modality.file} image"),
                _required(folder / "consensus_gt.nii.gz", f"mslub {folder.name} has no lesion mask"),
                mask if mask.is_file() else None,
            )
        )
    return scans


def _wmh_scans(root: Path, modality: Modality) -> list[RawScan]:
    if not root.is_dir():
        raise WMH_SOURCE.missing(f"folder {root} does not exist")
    folders = sorted(path.parent for path in root.rglob("pre") if path.is_dir())
    if not folders:
        raise WMH_SOURCE.missing(f"no <site>/<subject>/pre/ folder below {root}")
    return [
        RawScan(
            "-".join(folder.relative_to(root).parts) if folder != root else folder.name,
            _required(folder / "pre" / f"{modality.file}.nii.gz", f"wmh subject {folder} lacks its {modality.file}"),
            _required(
                folder / "wmh.nii.gz",
                f"wmh subject {folder} has no label map",
            ),
        )
        for folder in folders
    ]


BRATS_SOURCE = DataSource(
    "brats",
    "the BraTS 2021 Task 1 training data (https://www.synapse.org/brats2021, registration needed)",
    "BraTS2021_<id>/BraTS2021_<id>_{t1,t1ce,t2,flair,seg}.nii.gz, one folder per subject",
)
MSLUB_SOURCE = DataSource(
    "mslub",
    "the MS lesion database of the University of Ljubljana (https://lit.fe.uni-lj.si/en/research/resources/3D-MR-MS/)",
    "patient<nn>/{T1W,T1WKS,T2W,FLAIR,consensus_gt}.nii.gz (brainmask.nii.gz in the co-registered set)",
)
WMH_SOURCE = DataSource(
    "wmh",
    "the WMH Segmentation Challenge 2017 data (https://doi.org/10.34894/AECRSD)",
    "<site>/<subject>/pre/{FLAIR,T1}.nii.gz with <site>/<subject>/wmh.nii.gz",
)

RELEASES = {
    "brats": Release(
        "brats",
        BRATS_SOURCE,
        {
            "t1": Modality("t1", "T1w", "dark", "t1"),
            "t1ce": Modality("t1ce", "T1ce", "bright", None),
            "t2": Modality("t2", "T2w", "bright", "t2"),
            "flair": Modality("flair", "FLAIR", "bright", None),
        },
        "t2",  # the Behrendt papers' choice
        True,
        frozenset({0, 1, 2, 4}),
        frozenset({1, 2, 4}),  # the whole tumour
        None,
        _brats_scans,
    ),
    "mslub": Release(
        "mslub",
        MSLUB_SOURCE,
        {
            "t1": Modality("T1W", "T1w", "dark", "t1"),
            "t1ce": Modality("T1WKS", "T1ce", "dark", None),
            "t2": Modality("T2W", "T2w", "bright", "t2"),
            "flair": Modality("FLAIR", "FLAIR", "bright", None),
        },
        "t2",
        False,
        frozenset({0, 1}),
        frozenset({1}),
        None,
        _mslub_scans,
    ),
    "wmh": Release(
        "wmh",
        WMH_SOURCE,
        {
            "flair": Modality("FLAIR", "FLAIR", "bright", None),
            "t1": Modality("T1", "T1w", "dark", "t1"),
        },
        "flair",  # the challenge's
        False,
        frozenset({0, 1, 2}),
        frozenset({1}),
        2,
        _wmh_scans,
    ),
}


def release(name: str) -> Release:
    if name not in RELEASES:
        raise AnobenchError(f"no release named {name!r}; one of {', '.join(RELEASES)}")
    return RELEASES[name]
