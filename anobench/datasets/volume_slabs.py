"""Real brain scans as volumes: every axial slice of a z-range, with its brain mask.

The THOR work scores one slice per scan; the field's per-subject protocol scores every slice of a
slab. A data set of MRI scans (`atlas`, `ixi`) turns into volumes with `--data z_range=A:B`: each
scan gives one case per axial slice whose centre lies between world heights A and B mm (both
included; MNI space, so the same anatomy on every grid). A case is `<scan>_z<index>`, its subject
the scan, its `slice_index` the slice's index in the scan (RAS+), its brain mask cut and prepared
as the lesion mask is.

Brain masks (`brain_mask`): `template` (default) is nilearn's MNI152 brain mask resampled onto the
scan's grid (nearest neighbour), intersected with the scan's non-zero voxels, so that it serves
scans with a skull (Clinica's t1-linear output) and skull-stripped ones alike; `nonzero` is the
scan's non-zero voxels alone, for skull-stripped scans that are not in MNI space.

A scan is read once for all its slices: the adapters keep the prepared slabs of the last
`KEPT_SLABS` scans asked for (cases are read in order, a scan's slices one after another).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from anobench.datasets.nifti import axial_slice, read_volume_with_affine, slice_heights
from anobench.errors import AnobenchError
from anobench.imaging import NATIVE_SIZE, prepare_for_preset, prepare_mask, resize_mask

BrainMaskKind = Literal["template", "nonzero"]
KEPT_SLABS = 2  # a scan's slices are read one after another; one more covers a batch that straddles two


def parse_z_range(text: str) -> tuple[float, float]:
    """`A:B` (world heights in mm, A ≤ B) as a pair."""
    low, sep, high = text.partition(":")
    try:
        bounds = (float(low), float(high)) if sep else None
    except ValueError:
        bounds = None
    if bounds is None or bounds[0] > bounds[1]:
        raise AnobenchError(
            f"z_range {text!r} is not of the form A:B (world heights in mm, A ≤ B), e.g. z_range=-20:40"
        )
    return bounds


def canonical_geometry(path: Path) -> tuple[tuple[int, int, int], np.ndarray]:
    """A scan's RAS+ shape and affine from its header alone (no voxel read)."""
    import nibabel
    from nibabel import orientations

    try:
        image = nibabel.load(path)
        if not isinstance(image, nibabel.spatialimages.SpatialImage):
            raise TypeError(f"a {type(image).__name__}, not a volume")
        shape = tuple(int(n) for n in image.shape[:3])
        ornt = orientations.io_orientation(image.affine)
        affine = image.affine @ orientations.inv_ornt_aff(ornt, shape)
    except Exception as error:  # nibabel raises many types for damaged headers
        raise AnobenchError(f"cannot read the NIfTI header of {path} ({type(error).__name__}: {error})") from None
    order = [int(axis) for axis in ornt[:, 0]]
    canonical = [0, 0, 0]
    for axis, size in zip(order, shape):
        canonical[axis] = size
    return (canonical[0], canonical[1], canonical[2]), np.asarray(affine, dtype=np.float64)


def slices_in_range(path: Path, z_range: tuple[float, float]) -> list[int]:
    shape, affine = canonical_geometry(path)
    heights = slice_heights(affine, shape)
    chosen = [int(k) for k in np.flatnonzero((heights >= z_range[0]) & (heights <= z_range[1]))]
    if not chosen:
        raise AnobenchError(
            f"no axial slice of {path} lies between {z_range[0]:g} and {z_range[1]:g} mm "
            f"(its slices span {heights.min():.1f} … {heights.max():.1f} mm)"
        )
    return chosen


def slice_case_id(scan: str, index: int) -> str:
    return f"{scan}_z{index:03d}"


def scan_and_index(case_id: str) -> tuple[str, int]:
    scan, sep, index = case_id.rpartition("_z")
    if not sep or not index.isdigit():
        raise AnobenchError(f"case {case_id!r} is not a slice of a scan (<scan>_z<index>)")
    return scan, int(index)


@lru_cache(maxsize=4)
def _template_mask(shape: tuple[int, int, int], affine_bytes: bytes) -> np.ndarray:
    from nilearn import datasets, image

    affine = np.frombuffer(affine_bytes, dtype=np.float64).reshape(4, 4)
    resampled = image.resample_img(
        datasets.load_mni152_brain_mask(resolution=1),
        target_affine=affine,
        target_shape=shape,
        interpolation="nearest",
        force_resample=True,
        copy_header=True,
    )
    return np.asarray(resampled.dataobj) > 0.5


def brain_mask(volume: np.ndarray, affine: np.ndarray, kind: BrainMaskKind) -> np.ndarray:
    """The brain voxels of a RAS+ scan (see the module's note)."""
    nonzero = volume > 0
    if kind == "nonzero":
        return nonzero
    if kind != "template":
        raise AnobenchError(f"brain_mask must be template or nonzero, got {kind!r}")
    return nonzero & _template_mask(tuple(volume.shape), np.ascontiguousarray(affine, np.float64).tobytes())


@dataclass(frozen=True)
class PreparedSlice:
    image: np.ndarray
    lesion: np.ndarray | None
    brain: np.ndarray


def prepare_slab(
    image_path: Path,
    indices: list[int],
    image_size: int,
    kind: BrainMaskKind,
    lesion_volume: Callable[[tuple[int, ...]], np.ndarray] | None = None,
    excluded_volume: Callable[[tuple[int, ...]], np.ndarray] | None = None,
) -> dict[int, PreparedSlice]:
    """Slices `indices` of a scan prepared as THOR prepares one (each slice by its own 98th
    percentile), with the lesion (from `lesion_volume(shape)`, a RAS+ boolean volume) and brain masks
    through the same geometry; voxels of `excluded_volume(shape)` (WMH's other pathology) leave the
    brain mask, so that the volume protocol counts them neither as lesion nor as false positives."""
    volume, affine = read_volume_with_affine(image_path)
    brain = brain_mask(volume, affine, kind)
    if excluded_volume is not None:
        brain &= ~excluded_volume(volume.shape)
    lesion = lesion_volume(volume.shape) if lesion_volume is not None else None

    def mask(volume_mask: np.ndarray, index: int) -> np.ndarray:
        return resize_mask(prepare_mask(axial_slice(volume_mask, index, image_path), NATIVE_SIZE), image_size)

    return {
        index: PreparedSlice(
            prepare_for_preset(axial_slice(volume, index, image_path), image_size),
            None if lesion is None else mask(lesion, index),
            mask(brain, index),
        )
        for index in indices
    }
