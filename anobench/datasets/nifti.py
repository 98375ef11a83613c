"""Brain volumes and the one way anobench cuts an axial slice from them.

The orientation convention, shared by every brain source (the phantom, ATLAS, IXI; the THOR
release's PNG slices hold it already): a volume is first brought to the closest canonical (RAS+)
voxel order, so axis 0 runs left → right, axis 1 posterior → anterior and axis 2 inferior →
superior whatever the file's own order; the axial slice k is then `volume[:, :, k]` turned so that
**anterior is at the top (row 0) and the subject's left is at column 0** (the midline vertical).
That is `flipud(volume[:, :, k].T)`, the turn the THOR release's preprocessing notes give for its
mid-axial PNG slices of MNI-space scans (their files are RAS on disk). A model trained on one
source therefore sees every other one the same way up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from anobench.errors import AnobenchError
from anobench.imaging import prepare_for_preset

if TYPE_CHECKING:
    import nibabel


def canonical_array(image: "nibabel.spatialimages.SpatialImage") -> tuple[np.ndarray, np.ndarray]:
    """The image's voxels in RAS+ order (float32) and their voxel-to-world affine (mm)."""
    import nibabel

    canonical = nibabel.as_closest_canonical(image)
    return np.asarray(canonical.dataobj, dtype=np.float32), np.asarray(canonical.affine, dtype=np.float64)


def read_volume(path: Path) -> np.ndarray:
    return read_volume_with_affine(path)[0]


def read_volume_with_affine(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The checked 3-D voxel array (RAS+) and its voxel-to-world affine (mm)."""
    import nibabel

    try:
        image = nibabel.load(path)
        if not isinstance(image, nibabel.spatialimages.SpatialImage):
            raise TypeError(f"a {type(image).__name__}, not a volume")
        volume, affine = canonical_array(image)
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


def slice_heights(affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """World height (mm) of each axial slice's centre voxel."""
    centre_i, centre_j = (shape[0] - 1) / 2, (shape[1] - 1) / 2
    return np.array([float((affine @ np.array([centre_i, centre_j, k, 1.0]))[2]) for k in range(shape[2])])


def slice_index_at(affine: np.ndarray, shape: tuple[int, ...], z_mm: float) -> int:
    """The axial slice whose centre voxel lies nearest to world height `z_mm`."""
    return int(np.argmin(np.abs(slice_heights(affine, shape) - z_mm)))


def axial_slice(volume: np.ndarray, index: int, source: Path | str) -> np.ndarray:
    """Axial slice `index` of a RAS+ volume in anobench's orientation (anterior up, left at column 0)."""
    if not 0 <= index < volume.shape[2]:
        raise AnobenchError(f"NIfTI {source} has {volume.shape[2]} axial slices; slice {index} does not exist")
    return np.ascontiguousarray(np.flipud(volume[:, :, index].T))


def prepared_slice(volume: np.ndarray, index: int, path: Path, image_size: int) -> np.ndarray:
    """THOR's slice preparation at 128 px, then resized to the preset's size, in [0, 1]."""
    return prepare_for_preset(axial_slice(volume, index, path), image_size)
