"""Make tests/methods/golden/cddpm-release-postprocessing.{npz,json}: the post-processing of cDDPM's
released evaluation (`_test_step` in `src/utils/utils_eval.py` of
FinnBehrendt/Conditioned-Diffusion-Models-UAD: the brain mask eroded `W // 25` times slice by slice,
the 3-D median filter, and, for the thresholded Dice only, the removal of components of at most 7
voxels) run once on fixed residuals, for `tests/methods/test_cddpm.py`. The release is imported
from a checkout given as the argument (its code stays out of this project); `wandb`, which the
module imports and these functions never use, is stubbed.

A slice that anobench scores alone is given to the release as a volume of that slice twice: the
release's 5×5×5 median (scipy, mirrored borders) then reads five copies of the slice along z, which
is the 5×5 median of the slice itself.

    .venv/bin/python bench/golden/cddpm_postprocessing.py CDDPM_CHECKOUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import fixture
import numpy as np
import scipy
import torch

SIDE = 64  # W // 25 = 2 erosion iterations


def inputs() -> dict[str, np.ndarray]:
    """Two 64×64 residual slices (gamma noise, a bright lesion, a few isolated bright pixels), the
    images they came from (a skull ring outside the brain, so image > 0 is not the brain mask), the
    data set's brain mask, and a third slice to stack a 3-slice volume."""
    rng = np.random.default_rng(41)
    yy, xx = np.mgrid[:SIDE, :SIDE]
    radius = (yy - 32) ** 2 / 26**2 + (xx - 31) ** 2 / 22**2
    brain = np.broadcast_to(radius < 1, (3, SIDE, SIDE)).copy()
    images = np.where(brain, rng.uniform(0.3, 0.9, (3, SIDE, SIDE)), 0).astype(np.float32)
    skull = (radius >= 1.1) & (radius < 1.6)
    images[:, skull] = 0.6  # the skull: non-zero, outside the brain mask
    residuals = rng.gamma(2.0, 0.04, (3, SIDE, SIDE)).astype(np.float32)
    residuals[:, skull] += 0.3  # a badly reconstructed skull
    residuals[:, 20:28, 25:34] += 0.5  # a lesion
    residuals[:, 45, 20] += 0.9  # single bright pixels: components the removal takes away
    residuals[0, 40:44, 38:42] += 0.6  # a 4×4 blob in one slice: the median leaves a few pixels, the removal takes them
    residuals *= images > 0
    return {"images": images, "brain": brain, "residuals": residuals}


def main(checkout: Path) -> None:
    sys.path.insert(0, str(checkout))
    fixture.stub_module("wandb")
    from src.utils import utils_eval as release

    arrays = inputs()
    residuals, brain = arrays["residuals"], arrays["brain"]

    def post_processed(volume: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The release's steps on a D×H×W volume, in its H×W×D order."""
        diff = torch.from_numpy(np.ascontiguousarray(volume.transpose(1, 2, 0)))[None, None].clone()
        masked = release.apply_brainmask_volume(diff, torch.from_numpy(mask.transpose(1, 2, 0).astype(np.float32)))
        filtered = release.apply_3d_median_filter(masked.numpy().squeeze(), kernelsize=5)
        return filtered.transpose(2, 0, 1).astype(np.float32)

    arrays["map"] = np.stack(
        [post_processed(np.stack([r, r]), np.stack([b, b]))[0] for r, b in zip(residuals[:2], brain)]
    )
    arrays["map_3d"] = post_processed(residuals, brain)
    arrays["tau"] = np.float32(0.3)
    thresholded = (arrays["map"] > arrays["tau"]).astype(np.float32)
    arrays["thresholded_3d_removed"] = release.filter_3d_connected_components(thresholded.copy()).astype(np.float32)
    commit = fixture.commit_of(checkout)
    description = {
        "what": "cDDPM's evaluation post-processing of a residual map as the official code computes it",
        "source": f"github.com/FinnBehrendt/Conditioned-Diffusion-Models-UAD at commit {commit} "
        "(src/utils/utils_eval.py: apply_brainmask_volume, apply_3d_median_filter, filter_3d_connected_components, "
        "in the order _test_step calls them; AUROC/AUPRC and the best Dice read the filtered map, the component "
        "removal is applied to the thresholded map only)",
        "how": "map: each residual slice given as a 2-slice volume of itself (H x W x 2), masked by the brain mask "
        "eroded W // 25 = 2 times with a 3x3 cross, then median-filtered 5x5x5 (scipy, mirrored borders: five "
        "copies of the slice along z), slice 0 kept; map_3d: the three slices as one volume; "
        "thresholded_3d_removed: filter_3d_connected_components(map > tau) on the two maps as one volume "
        "(26-connected, filled area <= 7 removed)",
        "inputs": f"images, brain (3x{SIDE}x{SIDE}): an elliptic brain mask, images U(0.3, 0.9) inside it and a "
        "skull ring of 0.6 outside it (1.1 <= r < 1.6 in the ellipse's radius); residuals: gamma(2, 0.04) "
        "noise, +0.3 on the skull, +0.5 in a lesion, +0.9 on single pixels, +0.6 on a 4x4 blob of slice 1, "
        "zero where the image is zero; numpy default_rng(41); float32",
        "arrays": "images, brain, residuals, map (2 slices), map_3d (3 slices), tau, thresholded_3d_removed",
    }
    fixture.write(
        "cddpm-release-postprocessing", arrays, description, f"scipy {scipy.__version__}, numpy {np.__version__}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
