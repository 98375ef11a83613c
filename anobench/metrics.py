"""Pixel metrics of the THOR evaluation: lesion-size bins, pooled max-Dice, pooled AUPRC.

Dice is pooled at data-set level: over all pixels P of the maps and G of the masks of the slices
in a bin, Dice(τ) = 2·Σ(1[P > τ]·G) / (Σ1[P > τ] + ΣG + 1e-6) for τ ∈ {0, 0.01, …, 1}, and the
reported value is the maximum with the τ attaining it (an oracle threshold chosen on the test set;
the calibrated protocol is separate). Per case only 101 counts are kept (`ThresholdCounts`), so
pooling over any subset of cases (a bin, a bootstrap resample) is a sum, never a pass over pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

THRESHOLDS = np.linspace(0.0, 1.0, 101)
REFERENCE_SIDE = 128
# (name, lower, upper) on lesion pixel counts at 128×128: lower < n ≤ upper (n ≤ 3: not scored).
SIZE_BINS = (("small", 3.0, 71.0), ("medium", 71.0, 570.0), ("large", 570.0, 10000.0))
DICE_EPSILON = 1e-6


def size_bins(height: int, width: int) -> tuple[tuple[str, float, float], ...]:
    """The size bins with both limits scaled by (H·W)/(128·128)."""
    scale = height * width / REFERENCE_SIDE**2
    return tuple((name, lower * scale, upper * scale) for name, lower, upper in SIZE_BINS)


def size_bin(lesion_pixels: int, height: int, width: int) -> str | None:
    """The bin of a slice with `lesion_pixels` lesion pixels, or None if it is not scored."""
    for name, lower, upper in size_bins(height, width):
        if lower < lesion_pixels <= upper:
            return name
    return None


@dataclass(frozen=True)
class ThresholdCounts:
    """For each threshold τ_k: pixels with map > τ_k, and those of them inside the mask."""

    predicted: np.ndarray  # int64 [K]
    true_positive: np.ndarray  # int64 [K]
    positives: int


def threshold_counts(score_map: np.ndarray, mask: np.ndarray, thresholds: np.ndarray = THRESHOLDS) -> ThresholdCounts:
    values = np.asarray(score_map, dtype=np.float64).ravel()
    inside = np.asarray(mask, dtype=bool).ravel()
    # level = number of thresholds strictly below the value: the pixel is positive at τ_k iff k < level
    levels = np.searchsorted(thresholds, values, side="left")
    size = len(thresholds) + 1
    above = lambda histogram: np.cumsum(histogram[::-1])[::-1][1:]  # noqa: E731  Σ_{l > k}
    return ThresholdCounts(
        predicted=above(np.bincount(levels, minlength=size)),
        true_positive=above(np.bincount(levels[inside], minlength=size)),
        positives=int(inside.sum()),
    )


def dice_curve(predicted: np.ndarray, true_positive: np.ndarray, positives: float) -> np.ndarray:
    return 2 * true_positive / (predicted + positives + DICE_EPSILON)


@dataclass(frozen=True)
class MaxDice:
    dice: float
    threshold: float


def pooled_max_dice(counts: list[ThresholdCounts], thresholds: np.ndarray = THRESHOLDS) -> MaxDice:
    """Max over τ of the Dice pooled over the given cases (first τ on ties)."""
    if not counts:
        return MaxDice(float("nan"), float("nan"))
    curve = dice_curve(
        np.sum([c.predicted for c in counts], axis=0),
        np.sum([c.true_positive for c in counts], axis=0),
        sum(c.positives for c in counts),
    )
    best = int(np.argmax(curve))
    return MaxDice(float(curve[best]), float(thresholds[best]))


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the precision-recall curve as a step function (sklearn's average precision)."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels, dtype=bool).ravel()
    total_positive = int(labels.sum())
    if total_positive == 0:
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    scores, labels = scores[order], labels[order]
    # one operating point per distinct score: the last index of each run of equal scores
    last_of_run = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    true_positive = np.cumsum(labels)[last_of_run]
    precision = true_positive / (last_of_run + 1)
    recall = true_positive / total_positive
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def stacked_counts(counts: list[ThresholdCounts]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """N×K predicted, N×K true-positive counts and the N lesion pixel counts, case by case."""
    return (
        np.stack([c.predicted for c in counts]),
        np.stack([c.true_positive for c in counts]),
        np.array([c.positives for c in counts]),
    )


AUPRC_BINS = 512  # score bins of the AUPRC bootstrap (the reported value itself is exact)


def score_histograms(maps: np.ndarray, masks: np.ndarray, bins: int = AUPRC_BINS) -> tuple[np.ndarray, np.ndarray]:
    """N×B histograms of lesion and other pixels over B bins cut at quantiles of all the scores.

    Average precision over binned scores treats each bin as one tie, so the bootstrap of AUPRC is a
    sum of these histograms per resample.
    """
    values = maps.reshape(len(maps), -1)
    inside = masks.reshape(len(masks), -1).astype(bool)
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    levels = np.searchsorted(edges, values, side="right")
    size = len(edges) + 1
    offsets = np.arange(len(maps))[:, None] * size + levels
    positive = np.bincount(offsets[inside], minlength=len(maps) * size).reshape(len(maps), size)
    everything = np.bincount(offsets.ravel(), minlength=len(maps) * size).reshape(len(maps), size)
    return positive, everything - positive
