"""Pixel metrics of the THOR evaluation: lesion-size bins, pooled max-Dice, pooled AUPRC.

Dice is pooled at data-set level: over all pixels P of the maps and G of the masks of the slices
in a bin, Dice(τ) = 2·Σ(1[P ≥ τ]·G) / (Σ1[P ≥ τ] + ΣG + 1e-6), and the reported value is the
maximum over τ with the τ attaining it (an oracle threshold chosen on the test set; the calibrated
protocol is separate). The exact search (`rank_pixels`, `pooled_scores`) tries every distinct map
value; the THOR paper's grid (`ThresholdCounts`, `pooled_max_dice`) tries τ ∈ {0, 0.01, …, 1} with
P > τ and keeps 101 counts per case. Either way pooling over any subset of cases (a bin, a bootstrap
resample) is a sum of per-case counts, never a new pass over pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

THRESHOLDS = np.linspace(0.0, 1.0, 101)
DICE_EPSILON = 1e-6


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


def dice_curve(predicted: np.ndarray, true_positive: np.ndarray, positives: float | np.ndarray) -> np.ndarray:
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


def stacked_counts(counts: list[ThresholdCounts]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """N×K predicted, N×K true-positive counts and the N lesion pixel counts, case by case."""
    return (
        np.stack([c.predicted for c in counts]),
        np.stack([c.true_positive for c in counts]),
        np.array([c.positives for c in counts]),
    )


@dataclass(frozen=True)
class RankedPixels:
    """The pixels of N cases ranked, exactly, against what pooled max-Dice and average precision need.

    Both change only where a lesion pixel starts to count: lowering the threshold past pixels that
    are all outside the lesions lowers Dice and leaves recall alone. So the candidate thresholds are
    the S distinct map values of lesion pixels (descending): cut s calls anomalous every pixel with
    map ≥ values[s], and each pixel keeps the first cut that counts it. Pooling over any subset of
    cases is then a histogram over cuts and a cumulative sum: exact at every distinct value.
    """

    values: np.ndarray  # S distinct lesion values, descending
    first_cut: np.ndarray  # N×P int32: the first cut counting the pixel (S: none, it lies below every lesion value)
    inside: np.ndarray  # N×P bool: lesion pixels


def rank_pixels(maps: np.ndarray, masks: np.ndarray) -> RankedPixels:
    values = np.asarray(maps).reshape(len(maps), int(np.prod(np.shape(maps)[1:])))
    inside = np.asarray(masks, dtype=bool).reshape(values.shape)
    cuts = np.unique(values[inside])  # ascending
    first_cut = (len(cuts) - np.searchsorted(cuts, values, side="right")).astype(np.int32)
    return RankedPixels(cuts[::-1].copy(), first_cut, inside)


@dataclass(frozen=True)
class PooledScores:
    """Per set of case weights (one per bootstrap resample): max Dice, the value of its cut, and AP."""

    dice: np.ndarray  # R
    threshold: np.ndarray  # R: map ≥ threshold is anomalous at the maximum (NaN: no lesion pixel drawn)
    average_precision: np.ndarray  # R


def pooled_scores(
    ranked: RankedPixels, members: np.ndarray, weights: np.ndarray | None = None, max_cuts: int | None = None
) -> PooledScores:
    """Pooled max-Dice (first cut on ties) and average precision of the `members` cases, once (weights
    None: each case once) or under each row of `weights` (R×M case multiplicities of the members).
    Cuts are the members' distinct lesion values; with `max_cuts`, that many of them at evenly spaced
    ranks (lowest and highest kept; pixels between two kept cuts count as tied)."""
    first_cut, inside = ranked.first_cut[members], ranked.inside[members]
    every = len(ranked.values)
    kept = np.flatnonzero(np.bincount(first_cut[inside], minlength=every))  # the members' cuts, ascending index
    if max_cuts is not None and len(kept) > max_cuts:
        kept = kept[np.unique(np.linspace(0, len(kept) - 1, max_cuts).round().astype(int))]
    # a pixel first counts at the first kept cut at or after its own (values descend with the index)
    cut = np.searchsorted(kept, np.arange(every + 1), side="left")[first_cut]
    count = len(kept)
    counted = cut < count
    if weights is None:  # one pass: histograms over cuts
        gained = np.bincount(cut[counted & inside], minlength=count)[:, None].astype(np.float64)
        predicted = np.bincount(cut[counted], minlength=count)[:, None].astype(np.float64)
        dice, best, precision = pooled_from_cuts(gained, predicted, np.array([float(inside.sum())]))
    else:
        dice, best, precision = _resampled(cut, counted, inside, count, np.asarray(weights, dtype=np.float64))
    threshold = np.where(best >= 0, ranked.values[kept[np.maximum(best, 0)]] if count else np.nan, np.nan)
    return PooledScores(dice, threshold, precision)


CHUNK_CELLS = 1 << 22  # cuts × resamples pooled at once: bounds the memory of a bootstrap


def _resampled(
    cut: np.ndarray, counted: np.ndarray, inside: np.ndarray, count: int, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cases = len(cut)
    rows = np.broadcast_to(np.arange(cases)[:, None], cut.shape)

    def per_case(selected: np.ndarray) -> sparse.csr_matrix:  # cuts × cases pixel counts
        ones = np.ones(int(selected.sum()), np.float64)
        return sparse.csr_matrix((ones, (cut[selected], rows[selected])), shape=(count, cases))  # duplicates sum

    positive, everything = per_case(counted & inside), per_case(counted)
    lesion_per_case = inside.sum(axis=1).astype(np.float64)
    results = [np.full(len(weights), np.nan), np.full(len(weights), -1), np.full(len(weights), np.nan)]
    step = max(1, CHUNK_CELLS // max(count, 1))
    for start in range(0, len(weights), step):
        chunk = weights[start : start + step].T  # cases × c
        scores = pooled_from_cuts(positive @ chunk, everything @ chunk, lesion_per_case @ chunk)
        for result, score in zip(results, scores):
            result[start : start + chunk.shape[1]] = score
    return results[0], results[1], results[2]


def pooled_from_cuts(
    gained: np.ndarray, counted: np.ndarray, lesion: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Max Dice, its cut and AP per column, from lesion pixels (`gained`) and pixels (`counted`) first
    counted at each cut (S×c) and the lesion pixels of each column (c)."""
    drawn = lesion > 0
    if len(gained) == 0:
        return np.full(len(lesion), np.nan), np.full(len(lesion), -1), np.full(len(lesion), np.nan)
    true_positive = np.cumsum(gained, axis=0)
    predicted = np.cumsum(counted, axis=0)
    curve = 2 * true_positive / (predicted + lesion + DICE_EPSILON)
    best = np.argmax(curve, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.sum(gained * true_positive / np.maximum(predicted, 1.0), axis=0) / lesion
    dice = curve[best, np.arange(curve.shape[1])]
    return np.where(drawn, dice, np.nan), np.where(drawn, best, -1), np.where(drawn, precision, np.nan)
