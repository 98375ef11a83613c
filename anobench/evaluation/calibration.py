"""The calibrated threshold: one meaning wherever a board chooses τ without the test labels.

τ is chosen on healthy images (the split a data set declares for it): anomalous means map > τ, and
τ leaves the largest share of healthy pixels above it that is not above the target (5 %), the share
being the mean over images of each image's fraction. The candidates are every distinct healthy map
value (exact: the share then equals the target up to ties), or a given grid (the THOR paper's
0.01 grid for Dice, its 1,000 candidates for boxes); when no candidate of a grid reaches the target,
the largest is returned with the share it leaves, and boards flag it.
"""

from __future__ import annotations

from typing import Iterable, Protocol

import numpy as np

from anobench.evaluation.binned import (
    FINE_BINS,
    LOW_BITS,
    above,
    fine_bins,
    largest_float32_at_most,
    low_histograms,
    order_keys,
    rank_bin,
    ranked_value,
)

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


class HealthyMaps(Protocol):
    """Healthy maps read a chunk at a time (a stored result set's maps)."""

    def __call__(self) -> Iterable[np.ndarray]: ...


def streamed_threshold(
    chunks_of_maps: HealthyMaps, target: float = HEALTHY_FPR, candidates: np.ndarray | None = None
) -> tuple[float, float]:
    """`calibrated_threshold` over healthy maps too many to hold at once (images of one size), exactly:
    a first look gathers a histogram over fine bins of the values (`binned`), a second the low bits of
    the values in the bins that decide (the bin of the ranked value, or those of the candidates)."""
    histogram = np.zeros(FINE_BINS, np.int64)
    for maps in chunks_of_maps():
        histogram += np.bincount(fine_bins(maps).ravel(), minlength=FINE_BINS)
    total = int(histogram.sum())
    if candidates is None:
        rank = min(int(np.floor(target * total + 1e-9)), total - 1)  # pixels that may lie above τ
        decisive, before = rank_bin(histogram, rank)
        wanted = np.array([decisive])
    else:
        floors = largest_float32_at_most(candidates)
        wanted = np.unique(fine_bins(floors))
    low = np.zeros((len(wanted), 1 << LOW_BITS), np.int64)
    for maps in chunks_of_maps():
        low += low_histograms(maps, wanted)
    if candidates is None:
        tau, greater = ranked_value(int(wanted[0]), low[0], rank - before)
        return tau, (before + greater) / total
    higher = above(histogram)
    keys = order_keys(floors)
    bins = (keys >> np.uint32(LOW_BITS)).astype(np.intp)
    row = np.searchsorted(wanted, bins)
    strictly_above = np.concatenate([above(low), np.zeros((len(wanted), 1), np.int64)], axis=1)
    inside_above = strictly_above[row, (keys & np.uint32((1 << LOW_BITS) - 1)).astype(np.intp) + 1]
    share = (np.append(higher, 0)[bins + 1] + inside_above) / total
    allowed = np.flatnonzero(share <= target)
    index = allowed[np.argmax(share[allowed])] if allowed.size else len(candidates) - 1
    return float(candidates[index]), float(share[index])
