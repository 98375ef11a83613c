"""`anobench prepare ixi RAW_DIR OUT_DIR`: raw IXI T1 scans → skull-stripped MNI space, in the CAPS layout.

Each `IXI<nnn>-<site>-<id>-T1.nii.gz` is registered to the MNI152 template that nilearn ships
(2009a, 1 mm, 197×233×189; `--template` for another) by a SimpleITK affine registration (Mattes
mutual information, moments initialisation, three resolution levels, seeded sampling), resampled
onto the template grid (linear), skull-stripped with the template's brain mask (nilearn's MNI152
brain mask, or `--brain-mask` for another template: voxels outside it are set to 0, as ATLAS and
the THOR work's data are skull-stripped; `--keep-skull` leaves the head whole) and written as
`OUT_DIR/subjects/sub-IXI<nnn>/ses-M00/t1_linear/sub-IXI<nnn>_ses-M00_T1w_space-<template>_res-1x1x1_T1w.nii.gz`,
which the `ixi` adapter reads. Each output is written to a temporary name and renamed, so an
interrupted run leaves only complete files, and running the command again skips them (resumable).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from anobench.errors import AnobenchError

if TYPE_CHECKING:
    import SimpleITK as sitk

RAW_NAME = re.compile(r"^(IXI\d+)-.*-T1\.nii(\.gz)?$")
NILEARN_TEMPLATE_SPACE = "MNI152NLin2009aSym"


@dataclass(frozen=True)
class RegistrationSettings:
    shrink_factors: tuple[int, ...] = (4, 2, 1)
    smoothing_mm: tuple[float, ...] = (2.0, 1.0, 0.0)
    iterations: int = 200
    sampling_fraction: float = 0.1
    seed: int = 1  # of the metric's random samples; SimpleITK reads 0 as "seed from the wall clock"


def register_affine(fixed: "sitk.Image", moving: "sitk.Image", settings: RegistrationSettings) -> "sitk.Transform":
    """The affine transform mapping points of `fixed` onto `moving` (SimpleITK's convention)."""
    import SimpleITK as sitk

    fixed, moving = sitk.Cast(fixed, sitk.sitkFloat32), sitk.Cast(moving, sitk.sitkFloat32)
    initial = sitk.CenteredTransformInitializer(
        fixed, moving, sitk.AffineTransform(3), sitk.CenteredTransformInitializerFilter.MOMENTS
    )
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=50)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(settings.sampling_fraction, settings.seed)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0, minStep=1e-4, numberOfIterations=settings.iterations, gradientMagnitudeTolerance=1e-8
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(list(settings.shrink_factors))
    method.SetSmoothingSigmasPerLevel(list(settings.smoothing_mm))
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    method.SetInitialTransform(initial, inPlace=False)
    return method.Execute(fixed, moving)


def _read(path: Path) -> "sitk.Image":
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise AnobenchError(f"cannot read NIfTI {path}: {str(error).strip().splitlines()[-1]}") from None
    if image.GetDimension() != 3:
        raise AnobenchError(f"NIfTI {path} is {image.GetDimension()}-D; a 3-D volume is expected")
    return image


def _nilearn_image(cache: Path, name: str, load: Callable[[], Any]) -> Path:
    """A nilearn image written once into `cache` as a NIfTI file SimpleITK can read."""
    path = cache / name
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{os.getpid()}.{path.name}")
        load().to_filename(partial)
        os.replace(partial, path)
    return path


def nilearn_template(cache: Path) -> Path:
    """nilearn's MNI152 template (1 mm)."""
    from nilearn.datasets import load_mni152_template

    return _nilearn_image(
        cache, f"mni152-{NILEARN_TEMPLATE_SPACE}-1mm.nii.gz", lambda: load_mni152_template(resolution=1)
    )


def nilearn_brain_mask(cache: Path) -> Path:
    """nilearn's MNI152 brain mask on the same grid (brain probability > 0.2)."""
    from nilearn.datasets import load_mni152_brain_mask

    return _nilearn_image(
        cache, f"mni152-{NILEARN_TEMPLATE_SPACE}-1mm-brain-mask.nii.gz", lambda: load_mni152_brain_mask(resolution=1)
    )


def brain_mask_on(fixed: "sitk.Image", mask_path: Path) -> "sitk.Image":
    """The brain mask (binary, float) on the template's grid, resampled there (nearest) if it has another."""
    import SimpleITK as sitk

    mask = _read(mask_path)
    same_grid = (mask.GetSize(), mask.GetSpacing(), mask.GetOrigin(), mask.GetDirection()) == (
        fixed.GetSize(),
        fixed.GetSpacing(),
        fixed.GetOrigin(),
        fixed.GetDirection(),
    )
    if not same_grid:
        mask = sitk.Resample(mask, fixed, sitk.Transform(), sitk.sitkNearestNeighbor, 0.0)
    inside = sitk.GetArrayFromImage(mask) > 0
    if not inside.any():
        raise AnobenchError(f"brain mask {mask_path} is empty on the template's grid")
    binary = sitk.GetImageFromArray(inside.astype("float32"))
    binary.CopyInformation(fixed)
    return binary


def output_path(out_dir: Path, raw: Path, space: str) -> Path:
    subject = f"sub-{RAW_NAME.match(raw.name).group(1)}"  # type: ignore[union-attr]
    name = f"{subject}_ses-M00_T1w_space-{space}_res-1x1x1_T1w.nii.gz"
    return out_dir / "subjects" / subject / "ses-M00" / "t1_linear" / name


def raw_scans(raw_dir: Path) -> list[Path]:
    if not raw_dir.is_dir():
        raise AnobenchError(
            f"raw IXI folder {raw_dir} does not exist; get IXI-T1.tar from https://brain-development.org/ixi-dataset/"
        )
    scans = sorted(path for path in raw_dir.iterdir() if RAW_NAME.match(path.name))
    if not scans:
        raise AnobenchError(f"no IXI*-T1.nii.gz files in {raw_dir} (the IXI-T1.tar release unpacked)")
    return scans


def prepare_ixi(
    raw_dir: Path,
    out_dir: Path,
    template: Path,
    space: str,
    brain_mask: Path | None,
    settings: RegistrationSettings = RegistrationSettings(),
    advance: Callable[[str], None] = lambda name: None,
) -> tuple[int, int]:
    """Register (and, with a `brain_mask` in template space, skull-strip) every raw scan not prepared
    yet; returns (prepared now, already there)."""
    import SimpleITK as sitk

    scans = raw_scans(raw_dir)
    fixed = _read(template)
    inside = None if brain_mask is None else brain_mask_on(fixed, brain_mask)
    done = skipped = 0
    for raw in scans:
        target = output_path(out_dir, raw, space)
        if target.is_file():
            skipped += 1
        else:
            moving = _read(raw)
            transform = register_affine(fixed, moving, settings)
            registered = sitk.Resample(moving, fixed, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
            if inside is not None:
                registered = registered * inside
            partial = out_dir / ".partial" / target.name  # outside the layout the adapter reads
            partial.parent.mkdir(parents=True, exist_ok=True)
            sitk.WriteImage(registered, str(partial))
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(partial, target)
            done += 1
        advance(raw.name)
    return done, skipped
