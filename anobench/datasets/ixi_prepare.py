"""`anobench prepare ixi RAW_DIR OUT_DIR`: raw IXI scans → skull-stripped MNI space, in the CAPS layout.

Each `IXI<nnn>-<site>-<id>-<T1|T2|PD>.nii.gz` of the chosen modality (`--modality`, T1 by default)
is registered to the MNI152 template that nilearn ships (`registration`: SimpleITK affine, Mattes
mutual information, which aligns a T2 or PD scan to the T1 template as well), resampled onto the
template grid (linear), skull-stripped with the template's brain mask (nilearn's MNI152 brain mask,
or `--brain-mask` for another template: voxels outside it are set to 0, as ATLAS and the THOR work's
data are skull-stripped; `--keep-skull` leaves the head whole) and written as
`OUT_DIR/subjects/sub-IXI<nnn>/ses-M00/<t1|t2|pd>_linear/sub-IXI<nnn>_ses-M00_<T1w|T2w|PDw>_space-<template>_res-1x1x1_<T1w|T2w|PDw>.nii.gz`,
which the `ixi` adapter reads (`--data modality=t2` for T2). Each output is written to a temporary
name and renamed, so an interrupted run leaves only complete files, and running the command again
skips them (resumable).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from anobench.datasets.ixi import MODALITIES, IXIModality
from anobench.datasets.registration import (
    RegistrationSettings,
    brain_mask_on,
    read_image,
    register_onto,
    write_atomically,
)
from anobench.errors import AnobenchError


def raw_name(modality: IXIModality) -> re.Pattern[str]:
    return re.compile(rf"^(IXI\d+)-.*-{MODALITIES[modality].raw}\.nii(\.gz)?$")


def output_path(out_dir: Path, raw: Path, space: str, modality: IXIModality = "t1") -> Path:
    names = MODALITIES[modality]
    subject = f"sub-{raw_name(modality).match(raw.name).group(1)}"  # type: ignore[union-attr]
    name = f"{subject}_ses-M00_{names.suffix}_space-{space}_res-1x1x1_{names.suffix}.nii.gz"
    return out_dir / "subjects" / subject / "ses-M00" / names.folder / name


def raw_scans(raw_dir: Path, modality: IXIModality = "t1") -> list[Path]:
    tar = f"IXI-{MODALITIES[modality].raw}.tar"
    if not raw_dir.is_dir():
        raise AnobenchError(
            f"raw IXI folder {raw_dir} does not exist; get {tar} from https://brain-development.org/ixi-dataset/"
        )
    pattern = raw_name(modality)
    scans = sorted(path for path in raw_dir.iterdir() if pattern.match(path.name))
    if not scans:
        raise AnobenchError(
            f"no IXI*-{MODALITIES[modality].raw}.nii.gz files in {raw_dir} (the {tar} release unpacked)"
        )
    return scans


def prepare_ixi(
    raw_dir: Path,
    out_dir: Path,
    template: Path,
    space: str,
    brain_mask: Path | None,
    settings: RegistrationSettings = RegistrationSettings(),
    advance: Callable[[str], None] = lambda name: None,
    modality: IXIModality = "t1",
) -> tuple[int, int]:
    """Register (and, with a `brain_mask` in template space, skull-strip) every raw scan not prepared
    yet; returns (prepared now, already there)."""
    scans = raw_scans(raw_dir, modality)
    fixed = read_image(template)
    inside = None if brain_mask is None else brain_mask_on(fixed, brain_mask)
    done = skipped = 0
    for raw in scans:
        target = output_path(out_dir, raw, space, modality)
        if target.is_file():
            skipped += 1
        else:
            registered, _ = register_onto(fixed, read_image(raw), {}, inside, settings)
            write_atomically(registered, target, out_dir / ".partial")
            done += 1
        advance(raw.name)
    return done, skipped
