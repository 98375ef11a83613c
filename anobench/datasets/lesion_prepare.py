"""`anobench prepare brats|mslub|wmh RAW_DIR OUT_DIR`: a release's scans → MNI space, one modality.

Per subject, as `prepare ixi` does for the healthy scans (`registration`): the image of the chosen
modality (`--modality`) is skull-stripped where the release gives a brain mask (MSLUB's co-registered
set), registered to nilearn's MNI152 template (SimpleITK affine, Mattes mutual information, so T2 and
FLAIR align to the T1 template), resampled onto its grid (linear), and skull-stripped with the
template's brain mask where the release is not stripped (WMH; `--keep-skull` leaves the head). The
label map follows through the same transform (nearest neighbour) and is written as the lesion mask
(BraTS: the whole tumour, labels 1, 2, 4; MSLUB: the consensus; WMH: label 1) and, for WMH, the
excluded mask (label 2, "other pathology", which the challenge leaves out of evaluation).

Layout written (read by `--dataset NAME --data-root OUT_DIR`):
`OUT_DIR/anobench-prepared.json` (release, modality, template space, skull stripping) and
`OUT_DIR/<subject>/<subject>_<T1w|T1ce|T2w|FLAIR>.nii.gz`, `<subject>_lesion.nii.gz` (and
`<subject>_excluded.nii.gz`). One folder holds one modality: another modality goes into another
folder. Every file is checked before anything is written (a missing modality or mask, a label map of
another shape); outputs are written under temporary names and renamed, so an interrupted run leaves
complete files only and the same command resumes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from anobench.datasets.lesion_releases import Modality, RawScan, Release
from anobench.datasets.registration import (
    RegistrationSettings,
    brain_mask_on,
    read_image,
    register_onto,
    write_atomically,
)
from anobench.errors import AnobenchError
from anobench.store.atomic import atomic_write

if TYPE_CHECKING:
    import SimpleITK as sitk

PREPARED = "anobench-prepared.json"
COMPARED = ("release", "modality", "space", "skull")  # what a folder's scans must share


@dataclass(frozen=True)
class PreparedFiles:
    image: Path
    lesion: Path
    excluded: Path | None

    def complete(self) -> bool:
        return all(path.is_file() for path in (self.image, self.lesion, self.excluded) if path is not None)


def prepared_files(out_dir: Path, subject: str, modality: Modality, release: Release) -> PreparedFiles:
    folder = out_dir / subject
    excluded = folder / f"{subject}_excluded.nii.gz" if release.excluded_label is not None else None
    return PreparedFiles(folder / f"{subject}_{modality.suffix}.nii.gz", folder / f"{subject}_lesion.nii.gz", excluded)


def skull_policy(release: Release, keep_skull: bool) -> str:
    if release.skull_stripped:
        return "stripped by the release"
    if keep_skull:
        return "kept"
    return "release brain mask where given, else the template's brain mask"


def _size(path: Path) -> tuple[int, ...]:
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        raise AnobenchError(f"cannot read the NIfTI header of {path}") from None
    return tuple(reader.GetSize())


def check_shapes(scans: list[RawScan], modality: Modality) -> None:
    """Every label map and brain mask on its image's grid (header reads only)."""
    for scan in scans:
        shape = _size(scan.image)
        for other in (scan.labels, scan.brain_mask):
            if other is not None and _size(other) != shape:
                raise AnobenchError(
                    f"{other} has shape {_size(other)}, its {modality.file} image {scan.image} has {shape}: "
                    "labels must be on the image's grid"
                )


def checked_labels(path: Path, release: Release) -> np.ndarray:
    """The label map's voxels (z, y, x), refused if it holds a value the release does not use."""
    import SimpleITK as sitk

    values = sitk.GetArrayFromImage(read_image(path))
    found = np.unique(values)
    unknown = [value for value in found.tolist() if value not in release.label_values]
    if unknown:
        allowed = ", ".join(str(v) for v in sorted(release.label_values))
        shown = ", ".join(f"{v:g}" for v in unknown[:5])
        raise AnobenchError(f"{path} holds label(s) {shown}; {release.name} label maps hold {allowed}")
    return values


def _on_grid(inside: np.ndarray, like: "sitk.Image") -> "sitk.Image":
    """A boolean (z, y, x) array as a 0/1 image on `like`'s grid."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(inside.astype(np.uint8))
    image.CopyInformation(like)  # drawn on the image's voxels: its geometry, whatever the label header's rounding
    return image


def _record(out_dir: Path, description: dict[str, Any]) -> None:
    """Write the folder's description, or check that the one there is of the same kind of scans."""
    path = out_dir / PREPARED
    if path.is_file():
        held = json.loads(path.read_text())
        if any(held.get(key) != description[key] for key in COMPARED):
            raise AnobenchError(
                f"{out_dir} holds {held.get('release')} {held.get('modality')} scans prepared otherwise "
                f"({', '.join(f'{key}: {held.get(key)}' for key in COMPARED)}); prepare into another folder"
            )
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda temporary: temporary.write_text(json.dumps(description, indent=2) + "\n"))


def prepare_release(
    release: Release,
    raw_dir: Path,
    out_dir: Path,
    modality_name: str,
    template: Path,
    space: str,
    template_mask: Path | None,
    keep_skull: bool = False,
    settings: RegistrationSettings = RegistrationSettings(),
    advance: Callable[[str], None] = lambda subject: None,
) -> tuple[int, int]:
    """Register every subject not prepared yet; returns (prepared now, already there).

    `template_mask`: the template's brain mask (None for a template without one): it strips the skull
    of a release that is not stripped (unless `keep_skull`), and a stripped scan is registered to
    the template's brain (template × mask), not to its head."""
    import SimpleITK as sitk

    if keep_skull and release.skull_stripped:
        raise AnobenchError(f"--keep-skull: the {release.name} release is skull-stripped already")
    if template_mask is None and not keep_skull and not release.skull_stripped:
        raise AnobenchError("a custom --template needs its --brain-mask to skull-strip (or pass --keep-skull)")
    modality = release.modality(modality_name)
    scans = release.find(raw_dir, modality)
    check_shapes(scans, modality)
    _record(
        out_dir,
        {
            "release": release.name,
            "modality": modality_name,
            "space": space,
            "skull": skull_policy(release, keep_skull),
            "source": str(raw_dir.resolve()),
        },
    )
    fixed = read_image(template)
    template_brain = None if template_mask is None else brain_mask_on(fixed, template_mask)
    brain_target = None if template_brain is None else _float(fixed) * template_brain
    done = skipped = 0
    for scan in scans:
        files = prepared_files(out_dir, scan.subject, modality, release)
        if files.complete():
            skipped += 1
            advance(scan.subject)
            continue
        done += 1
        image = _float(read_image(scan.image))
        values = checked_labels(scan.labels, release)
        labels = {"lesion": _on_grid(np.isin(values, sorted(release.lesion_labels)), image)}
        if release.excluded_label is not None:
            labels["excluded"] = _on_grid(values == release.excluded_label, image)
        if scan.brain_mask is not None and not keep_skull:  # the release's own mask, on the image's grid
            image = image * _float(_on_grid(sitk.GetArrayFromImage(read_image(scan.brain_mask)) > 0, image))
        stripped = release.skull_stripped or (scan.brain_mask is not None and not keep_skull)
        registered, moved = register_onto(
            fixed,
            image,
            labels,
            None if stripped or keep_skull else template_brain,
            settings,
            target=brain_target if stripped else None,
        )
        partial = out_dir / ".partial"
        write_atomically(moved["lesion"], files.lesion, partial)
        if files.excluded is not None:
            write_atomically(moved["excluded"], files.excluded, partial)
        write_atomically(registered, files.image, partial)  # last: its presence marks the subject done
        advance(scan.subject)
    return done, skipped


def _float(image: "sitk.Image") -> "sitk.Image":
    import SimpleITK as sitk

    return sitk.Cast(image, sitk.sitkFloat32)
