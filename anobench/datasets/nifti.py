"""Reading NIfTI volumes for the brain adapters, checked: 3-D, readable, finite.

Volumes are brought to the closest canonical (RAS+) orientation, so axis 2 runs inferior →
superior whatever the file's voxel order, and an axial slice is `volume[:, :, k]`, shown with
anterior up (rotated by 90°) as radiological PNG exports are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anobench.errors import AnobenchError
from anobench.imaging import prepare_for_preset


def read_volume(path: Path) -> np.ndarray:
    return read_volume_with_affine(path)[0]


def read_volume_with_affine(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The checked 3-D voxel array (RAS+) and its voxel-to-world affine (mm)."""
    import nibabel

    try:
        image = nibabel.as_closest_canonical(nibabel.load(path))
        volume = np.asarray(image.dataobj, dtype=np.float32)
        affine = np.asarray(image.affine, dtype=np.float64)
    except Exception as error:  # nibabel, gzip and zlib raise many types for damaged files
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise AnobenchError(f"cannot read NIfTI {path}: corrupt or not NIfTI ({reason})") from None
    if volume.ndim == 4 and volume.shape[3] == 1:
        volume = volume[..., 0]
    if volume.ndim != 3:
        raise AnobenchError(f"NIfTI {path} has shape {volume.shape}; a 3-D volume is expected")
    bad = int((~np.isfinite(volume)).sum())
    if bad:
        raise AnobenchError(f"NIfTI {path} has {bad} NaN or infinite voxels")
    return volume, affine


def slice_index_at(affine: np.ndarray, shape: tuple[int, ...], z_mm: float) -> int:
    """The axial slice whose centre voxel lies nearest to world height `z_mm`."""
    centre_i, centre_j = (shape[0] - 1) / 2, (shape[1] - 1) / 2
    heights = [float((affine @ np.array([centre_i, centre_j, k, 1.0]))[2]) for k in range(shape[2])]
    return int(np.argmin(np.abs(np.array(heights) - z_mm)))


def axial_slice(volume: np.ndarray, index: int, path: Path) -> np.ndarray:
    if not 0 <= index < volume.shape[2]:
        raise AnobenchError(f"NIfTI {path} has {volume.shape[2]} axial slices; slice {index} does not exist")
    return np.ascontiguousarray(np.rot90(volume[:, :, index]))


def prepared_slice(volume: np.ndarray, index: int, path: Path, image_size: int) -> np.ndarray:
    """THOR's slice preparation at 128 px, then resized to the preset's size, in [0, 1]."""
    return prepare_for_preset(axial_slice(volume, index, path), image_size)
