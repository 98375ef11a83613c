"""Registration onto a template, shared by every `anobench prepare` command.

A scan is registered to the template (nilearn's MNI152 2009a, 1 mm, 197×233×189, unless another is
given) by a SimpleITK affine registration (Mattes mutual information, moments initialisation, three
resolution levels, seeded sampling), resampled onto the template's grid (linear for images, nearest
neighbour for label maps) and, where asked, skull-stripped with the template's brain mask. Outputs
are written under a temporary name and renamed (`write_atomically`), so an interrupted preparation
leaves only complete files and resumes where it stopped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from anobench.errors import AnobenchError

if TYPE_CHECKING:
    import SimpleITK as sitk

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


def read_image(path: Path) -> "sitk.Image":
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

    mask = read_image(mask_path)
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


def register_onto(
    fixed: "sitk.Image",
    moving: "sitk.Image",
    labels: "dict[str, sitk.Image]",
    inside: "sitk.Image | None",
    settings: RegistrationSettings = RegistrationSettings(),
    target: "sitk.Image | None" = None,
) -> "tuple[sitk.Image, dict[str, sitk.Image]]":
    """`moving` on the template's grid (linear), its label maps through the same transform (nearest
    neighbour), the image multiplied by the brain mask `inside` when one is given (skull stripping).
    `target`: the image registered to, on the template's grid (a skull-stripped scan aligns to the
    template's brain, `fixed` × its mask, rather than to a head); `fixed` by default."""
    import SimpleITK as sitk

    transform = register_affine(fixed if target is None else target, moving, settings)
    registered = sitk.Resample(moving, fixed, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    if inside is not None:
        registered = registered * inside
    moved = {
        name: sitk.Resample(label, fixed, transform, sitk.sitkNearestNeighbor, 0.0, sitk.sitkUInt8)
        for name, label in labels.items()
    }
    return registered, moved


def write_atomically(image: "sitk.Image", target: Path, partial_folder: Path) -> None:
    """Write `image` to `target` through `partial_folder` (outside the layout an adapter reads) and a rename."""
    import SimpleITK as sitk

    partial = partial_folder / f"{os.getpid()}.{target.name}"
    partial.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(partial))
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, target)
