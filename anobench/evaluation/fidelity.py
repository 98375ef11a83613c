"""Restoration on healthy slices: how faithfully a method rebuilds anatomy that has nothing to repair.

A reconstruction-based detector flags what it fails to restore, so a method that blurs or alters
healthy tissue pays for it in false positives (the normative-fidelity evaluation of Bercea et al.,
GenAI_UAD). From the healthy cases scored with a run (the held-out healthy subjects of a run of
volumes, else the calibration split; `--healthy-split auto`), per case, between the input as the
method saw it and its reconstruction, both in [0, 1], averaged over the brain (the case's brain mask,
else the input's non-zero pixels: the background is no anatomy, and methods that leave it to a
mask, the DAE, reconstruct it loosely):
- MAE: the absolute difference;
- SSIM: scikit-image's structural similarity map (Gaussian window σ = 1.5, data range 1, the
  population covariance of Wang et al.), in float64 so that it is the same on every CPU;
- LPIPS: the `lpips` v0.1 SqueezeNet distance map (THOR's backend), when torchvision's ImageNet
  SqueezeNet weights are in the torch hub cache (nothing is downloaded).
Each is the mean over the healthy cases with a percentile bootstrap interval over them (clustered
by subject where the cases give subjects). Methods that return no reconstruction (ANDi, the
intensity baseline) have none.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from anobench.evaluation.bootstrap import Estimate, bootstrap_mean, clusters_of, resample_counts
from anobench.store import folder as store
from anobench.store.results import StoredResults, open_results
from anobench.store.rows import CASES

LPIPS_BACKEND = "lpips-squeeze"


@dataclass(frozen=True)
class Fidelity:
    split: str  # the run's healthy result set measured: healthy-test, else healthy
    cases: int
    mae: Estimate
    ssim: Estimate
    lpips: Estimate | None  # None: the ImageNet SqueezeNet weights are not on this machine


def lpips_weights() -> Path | None:
    from anobench.perceptual import TRUNKS, find_trunk_weights

    return find_trunk_weights(TRUNKS[LPIPS_BACKEND], None)


def fidelity_of(folder: Path) -> Fidelity | None:
    """The restoration measures of the run in `folder`, or None when it scored no healthy cases with
    their reconstructions."""
    for name in (store.HEALTHY_TEST, store.HEALTHY):
        if (folder / name / CASES).is_file():
            stored = open_results(folder / name)
            if not (stored.has("images") and stored.has("reconstructions")):
                return None
            return _measured(name, stored)
    return None


def _measured(name: str, stored: StoredResults) -> Fidelity:
    from skimage.metrics import structural_similarity

    weights_file = lpips_weights()
    distance = _lpips_distance() if weights_file is not None else None
    count = len(stored.rows)
    mae, ssim, lpips = np.empty(count), np.empty(count), np.empty(count)
    names = ["images", "reconstructions", *(["brain_masks"] if stored.has("brain_masks") else [])]
    for positions, arrays in stored.iterate(names):
        images = arrays["images"].astype(np.float64)
        restored = arrays["reconstructions"].astype(np.float64)
        regions = arrays["brain_masks"] if "brain_masks" in arrays else images > 0
        for position, image, estimate, region in zip(positions, images, restored, regions):
            region = region if region.any() else np.ones_like(region)  # an empty slice: the whole image
            _, ssim_map = structural_similarity(image, estimate, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                                use_sample_covariance=False, full=True)  # fmt: skip
            mae[position] = np.abs(image - estimate)[region].mean()
            ssim[position] = ssim_map[region].mean()
        if distance is not None:
            lpips[positions] = distance(images, restored, regions)
    weights = resample_counts(count, clusters=clusters_of(stored.rows["subject_id"].tolist()))
    return Fidelity(
        name,
        count,
        bootstrap_mean(mae, weights),
        bootstrap_mean(ssim, weights),
        bootstrap_mean(lpips, weights) if distance is not None else None,
    )


def _lpips_distance() -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """Per image, the mean LPIPS distance map (SqueezeNet, as THOR's backend calls it) of two float64
    stacks over each image's region."""
    import torch

    from anobench.perceptual import load_lpips

    backend = load_lpips(LPIPS_BACKEND, None, torch.device("cpu"), double_scaling=False)

    def distance(images: np.ndarray, restored: np.ndarray, regions: np.ndarray) -> np.ndarray:
        first, second = (torch.from_numpy(x[:, None].astype(np.float32)) for x in (restored, images))
        maps = backend.distance_map(first, second)[:, 0].double().numpy()
        return np.array([m[r].mean() if r.any() else m.mean() for m, r in zip(maps, regions)])

    return distance
