"""The calibrated threshold: one meaning wherever a board chooses τ without the test labels.

τ is chosen on healthy images (the split a data set declares for it): anomalous means map > τ, and
τ leaves the largest share of healthy pixels above it that is not above the target (5 %), the share
being the mean over images of each image's fraction. The candidates are every distinct healthy map
value (exact: the share then equals the target up to ties), or a given grid (the THOR paper's
0.01 grid for Dice, its 1,000 candidates for boxes); when no candidate of a grid reaches the target,
the largest is returned with the share it leaves, and boards flag it.
"""

from __future__ import annotations

import numpy as np

HEALTHY_FPR = 0.05  # share of healthy pixels a calibrated threshold may leave above it


def calibrated_threshold(
    healthy_maps: np.ndarray, target: float = HEALTHY_FPR, candidates: np.ndarray | None = None
) -> tuple[float, float]:
    """(τ, the share of healthy pixels with map > τ) by the rule above; `candidates` None: exact."""
    maps = np.asarray(healthy_maps, dtype=np.float64)
    if candidates is None:  # images of one size: the mean share is the pooled one, read off one sort
        values = np.sort(maps.ravel())[::-1]
        above_at_most = int(np.floor(target * len(values) + 1e-9))  # pixels that may lie above τ
        tau = values[min(above_at_most, len(values) - 1)]
        return float(tau), float(np.count_nonzero(values > tau) / len(values))
    # every candidate's share from one sort per image, no loop over candidates
    flat = np.sort(maps.reshape(len(maps), -1), axis=1)
    pixels = flat.shape[1]
    above = pixels - np.stack([np.searchsorted(row, candidates, side="right") for row in flat])
    share = (above / pixels).mean(axis=0)
    allowed = np.flatnonzero(share <= target)
    index = allowed[np.argmax(share[allowed])] if allowed.size else len(candidates) - 1
    return float(candidates[index]), float(share[index])
