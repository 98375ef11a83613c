"""The map post-processing of the released pDDPM and cDDPM evaluation (Behrendt et al., one codebase;
golden test against it: `tests/methods/golden/cddpm-release-postprocessing.json`).

The map is multiplied by the brain mask (the data set's where it gives one, else the image's
non-zero pixels) eroded by a 3×3 cross `W // 25` times slice by slice (2 at 64 px, 5 at 128), and
median-filtered 5×5 (2-D: anobench scores slices; the release filters 5×5×5 volumes, which is the
same for a volume of one slice). That is the map every metric of the release reads. The release
removes connected components of ≤ 7 voxels only after thresholding, for its Dice: anobench's volume
board does that in its post-processed table; `remove_small_components` instead applies it to the
map itself as a grey-level area opening (scikit-image: the small components of every thresholded
map at once, 8-connected), which changes what every metric reads (anobench's rule before
2026-12-07).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

MEDIAN_SIZE = 5
SMALLEST_KEPT_COMPONENT = 8  # pixels; components of ≤ 7 pixels are removed


def erosion_iterations(width: int) -> int:
    """The release's erosion of the brain mask: `W // 25` iterations of a 3×3 cross."""
    return width // 25


def postprocess_map(
    anomaly_map: np.ndarray, brain: np.ndarray, iterations: int | None = None, remove_small_components: bool = False
) -> np.ndarray:
    """One H×W map inside the H×W `brain` mask, post-processed as released. `iterations` of the
    erosion (None: the release's `W // 25`); 0 leaves the mask as it is (scipy would read 0 as
    "erode until nothing changes" and empty it, as the release does under 25 px)."""
    count = erosion_iterations(anomaly_map.shape[-1]) if iterations is None else iterations
    cross = ndimage.generate_binary_structure(2, 1)
    eroded = ndimage.binary_erosion(brain, structure=cross, iterations=count) if count > 0 else brain
    filtered = ndimage.median_filter(anomaly_map * eroded, size=MEDIAN_SIZE)
    if not remove_small_components:
        return filtered
    from skimage.morphology import area_opening  # importing scikit-image takes a second

    return area_opening(filtered, area_threshold=SMALLEST_KEPT_COMPONENT, connectivity=2)


def postprocess_maps(
    maps: torch.Tensor,
    images: torch.Tensor,
    brains: torch.Tensor | None = None,
    iterations: int | None = None,
    remove_small_components: bool = False,
) -> torch.Tensor:
    """B×1×H×W maps of B×1×H×W images, each post-processed, on the maps' device; `brains`: the data
    set's brain masks (B×1×H×W), else the images' non-zero pixels."""
    masks = (images > 0) if brains is None else brains.bool()
    processed = [
        postprocess_map(m[0], b[0], iterations, remove_small_components)
        for m, b in zip(maps.cpu().numpy(), masks.cpu().numpy())
    ]
    return torch.from_numpy(np.stack(processed)[:, None]).to(maps.device)
