"""Make tests/methods/golden/intensity-release.{npz,json}: the intensity baseline's map as the
official code computes it (`histogram_equalization` in `utils/utils.py` of FeliMe/brain_sas_baseline,
what `load_mr_scan(..., equalize=True)` applies and `baseline.py` evaluates as the anomaly map), on
fixed 8-bit slices, for `tests/methods/test_intensity.py`. The release is imported from a checkout
given as the argument (its code stays out of this project).

    .venv/bin/python bench/golden/intensity_map.py BRAIN_SAS_BASELINE_CHECKOUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import fixture
import numpy as np
import skimage
import torch


def inputs() -> np.ndarray:
    """Three 8-bit slices (values k/255 as anobench's images hold them): zero background, a tissue
    disc of two classes and a dark lesion; the third slice all background but one pixel."""
    rng = np.random.default_rng(23)
    side = 32
    yy, xx = np.mgrid[:side, :side]
    brain = (yy - 16) ** 2 + (xx - 15) ** 2 < 13**2
    slices = np.zeros((3, side, side), np.float32)
    for index in range(2):
        tissue = np.where(xx < 15, 140, 200) + rng.integers(-25, 26, size=(side, side))
        tissue = np.where(
            (yy - 12) ** 2 + (xx - 18 + 4 * index) ** 2 < 9, 60 + rng.integers(0, 20, (side, side)), tissue
        )
        slices[index] = np.where(brain, tissue, 0) / 255.0
    slices[2, 10, 10] = 90 / 255.0
    return slices


def main(checkout: Path) -> None:
    sys.path.insert(0, str(checkout))
    from utils.utils import histogram_equalization

    images = inputs()
    levels = np.rint(images * 255).astype(np.float32)  # the scanner-like integer intensities the release casts
    per_slice = np.stack([histogram_equalization(torch.from_numpy(s)[None, None])[0, 0].numpy() for s in levels])
    per_volume = histogram_equalization(torch.from_numpy(levels[:2])[None])[0].numpy()
    arrays = {"images": images, "per_slice": per_slice.astype(np.float32), "per_volume": per_volume.astype(np.float32)}
    commit = fixture.commit_of(checkout)
    description = {
        "what": "the intensity baseline's anomaly map (the histogram-equalised input) as the official code computes it",
        "source": f"github.com/FeliMe/brain_sas_baseline at commit {commit} (utils/utils.py "
        "histogram_equalization, applied by utils/data_utils.py load_mr_scan(equalize=True); baseline.py evaluates "
        "the loaded samples as the anomaly maps)",
        "how": "histogram_equalization on each slice as a 1x1xHxW volume (per_slice) and on the first two slices "
        "as one 1x2xHxW volume (per_volume), the inputs as the integer intensities round(255 x) in float32 as "
        "nibabel would load an 8-bit scan; the release casts them to integers, equalises with scikit-image's "
        "equalize_hist(nbins=256) over the voxels > 0 and zeroes the background",
        "inputs": "images: 3x32x32 float32 k/255, zero background, a disc of two tissue classes (140 and 200 "
        "± 25) with a dark lesion (60..79) drawn with numpy default_rng(23); slice 3: one pixel of 90",
        "arrays": "images, per_slice (3x32x32), per_volume (2x32x32)",
    }
    fixture.write(
        "intensity-release", arrays, description, f"scikit-image {skimage.__version__}, numpy {np.__version__}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
