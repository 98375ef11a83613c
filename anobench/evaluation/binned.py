"""What the pooled pixel metrics need of billions of map values, in memory that does not grow with
them: histograms over fine bins of the values, the metrics read off them with bounds on the exact
values, and exact order statistics (a calibrated threshold) by a second look at one bin.

Fine bins are fixed in advance, with no look at the data: a float32 value's bits, read as an
order-preserving unsigned integer (`order_keys`), keep their top `FINE_BITS` bits as the bin
(`fine_bins`). Each bin is 2^-11 of its binade wide (relative width 0.05 %), whatever the scale of
the maps (ANDi's are ~1e-6), and "map ≥ the bin's lowest value" (`bin_floor`) holds exactly for the
pixels of that bin and every bin above: thresholds at bin floors are exact thresholds, so the Dice
read off the histograms at a floor is the Dice at that threshold, not an estimate of it. What the
bins can hide is a better threshold inside one bin; `dice_bounds` and `precision_bounds` say how
much better it can be, from the same counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import digamma

from anobench.evaluation.pixel_metrics import DICE_EPSILON
from anobench.store.folder import HEALTHY
from anobench.store.results import open_results
from anobench.store.rows import CASES

EXACT_PIXELS = 1 << 25  # pixels of a run (with its healthy split) an exact search holds at most: about 1 GiB
EXACT_BYTES_PER_PIXEL = 32  # what the exact search holds per pixel, at its peak
FINE_BITS = 20
FINE_BINS = 1 << FINE_BITS
LOW_BITS = 32 - FINE_BITS  # the bits inside a fine bin, read in a second look (`low_histograms`)
SIGN = np.uint32(0x80000000)


def run_pixels(folder: Path) -> int:
    """Pixels of the maps an exact search would hold for the run in `folder` (its healthy split's too):
    beyond `EXACT_PIXELS`, boards read the run a chunk at a time."""
    pixels = 0
    for part in (folder, folder / HEALTHY):
        if (part / CASES).is_file():
            found = open_results(part)
            pixels += len(found.rows) * found.pixels_per_case
    return pixels


def order_keys(values: np.ndarray) -> np.ndarray:
    """uint32 keys with the order of the float32 values (−0.0 counted as +0.0; values must be finite)."""
    bits = (np.asarray(values, dtype=np.float32) + np.float32(0.0)).view(np.uint32)  # −0.0 + 0.0 is +0.0
    return bits ^ ((bits.view(np.int32) >> 31).view(np.uint32) | SIGN)


def key_values(keys: np.ndarray) -> np.ndarray:
    """The float32 values of order keys (the inverse of `order_keys`)."""
    keys = np.asarray(keys, dtype=np.uint32)
    return np.where(keys & SIGN, keys ^ SIGN, ~keys).astype(np.uint32).view(np.float32)


def fine_bins(values: np.ndarray) -> np.ndarray:
    """The fine bin of each value."""
    return (order_keys(values) >> np.uint32(LOW_BITS)).astype(np.intp)


def bin_floor(bins: np.ndarray | int) -> np.ndarray:
    """The lowest float32 value of each fine bin: map ≥ floor(b) exactly for the values of bins ≥ b."""
    return key_values(np.asarray(bins, dtype=np.uint32) << np.uint32(LOW_BITS))


def above(histogram: np.ndarray) -> np.ndarray:
    """Counts at or above each bin: Σ_{b' ≥ b} histogram[b'] (along the last axis)."""
    return np.cumsum(histogram[..., ::-1], axis=-1)[..., ::-1]


@dataclass(frozen=True)
class BinnedDice:
    """The best Dice at a bin floor (an exact Dice at an exact threshold), and how far above it the
    exact maximum over every threshold can lie."""

    dice: float
    threshold: float  # map ≥ threshold
    bin: int  # its fine bin (−1: no lesion pixel)
    upper: float  # the exact maximum over every threshold lies in [dice, upper]


def dice_bounds(lesion: np.ndarray, everything: np.ndarray) -> BinnedDice:
    """Pooled max-Dice over bin floors from histograms of lesion pixels and of all pixels, with the
    bound: a threshold inside bin b counts at most the lesion pixels of bins ≥ b and at least the
    pixels of bins > b, so its Dice is at most 2·TP(b) / (P(b + 1) + G)."""
    positives = float(lesion.sum())
    if positives == 0:
        return BinnedDice(float("nan"), float("nan"), -1, float("nan"))
    true_positive = above(lesion.astype(np.float64))
    predicted = above(everything.astype(np.float64))
    curve = 2 * true_positive / (predicted + positives + DICE_EPSILON)
    candidates = np.flatnonzero(lesion)[::-1]  # Dice only rises where a lesion pixel joins: first best from the top
    best = int(candidates[np.argmax(curve[candidates])])
    above_next = np.append(predicted[1:], 0.0)
    upper = float(np.max((2 * true_positive / (above_next + positives + DICE_EPSILON))[candidates]))
    return BinnedDice(float(curve[best]), float(bin_floor(best)), best, max(upper, float(curve[best])))


def precision_bounds(lesion: np.ndarray, everything: np.ndarray) -> tuple[float, float, float]:
    """Average precision (sklearn's: each lesion pixel scores the precision at the end of its group of
    tied values) from the histograms with the pixels of a bin taken as tied, and the lowest and highest
    value it can have for any order and any ties of the pixels inside the bins. In a bin of a lesion
    and n other pixels below c lesion and d pixels: lowest with the others first and no ties, each
    lesion pixel at (c + i)/(d + n + i), Σ_{i=1}^{a} = a − (d + n − c)(ψ(d + n + a + 1) − ψ(d + n + 1));
    highest with the lesion pixels first and tied, each at (c + a)/(d + a)."""
    positives = float(lesion.sum())
    if positives == 0:
        return float("nan"), float("nan"), float("nan")
    bins = np.flatnonzero(everything)[::-1]
    gained = lesion[bins].astype(np.float64)
    others = everything[bins].astype(np.float64) - gained
    true_before = np.cumsum(gained) - gained
    counted_before = np.cumsum(gained + others) - gained - others
    joined = gained > 0  # the bins a lesion pixel joins in
    gained, others, true_before, counted_before = (
        gained[joined],
        others[joined],
        true_before[joined],
        counted_before[joined],
    )
    tied = np.sum(gained * (true_before + gained) / (counted_before + gained + others))
    highest = np.sum(gained * (true_before + gained) / (counted_before + gained))
    start = counted_before + others
    lowest = np.sum(gained - (start - true_before) * (digamma(start + gained + 1) - digamma(start + 1)))
    return float(tied / positives), float(lowest / positives), float(highest / positives)


def coarse_cuts(lesion: np.ndarray, count: int) -> np.ndarray:
    """Up to `count` fine bins (descending) at evenly spaced ranks of the lesion pixels: the cuts a
    bootstrap resample is searched at (every lesion bin when there are at most `count`)."""
    occupied = np.flatnonzero(lesion)
    if len(occupied) > count:
        ranks = np.cumsum(lesion[occupied]) / lesion[occupied].sum()
        wanted = np.searchsorted(ranks, np.linspace(0.0, 1.0, count), side="left")
        occupied = occupied[np.unique(np.clip(wanted, 0, len(occupied) - 1))]
    return occupied[::-1].copy()


def cut_lookup(cuts: np.ndarray) -> np.ndarray:
    """For every fine bin, the first of the descending `cuts` that counts it (map ≥ its floor), or
    len(cuts) for bins below every cut."""
    ascending = cuts[::-1]
    below = np.searchsorted(ascending, np.arange(FINE_BINS), side="right")  # cuts at or under each bin
    return np.where(below > 0, len(cuts) - below, len(cuts)).astype(np.int32)


def rank_bin(histogram: np.ndarray, rank: int) -> tuple[int, int]:
    """The bin holding the value of descending rank `rank` (0: the largest), and how many values of
    higher bins come before it."""
    from_top = np.cumsum(histogram[::-1])
    position = int(np.searchsorted(from_top, rank, side="right"))
    bin_index = len(histogram) - 1 - position
    return bin_index, int(from_top[position - 1]) if position else 0


def low_histograms(values: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Histograms of the low key bits of the values inside each of the sorted fine `bins` (len × 2^12):
    the second look at the few bins whose values decide an order statistic."""
    keys = order_keys(values).ravel()
    fine = (keys >> np.uint32(LOW_BITS)).astype(np.intp)
    where = np.searchsorted(bins, fine)
    hit = where < len(bins)
    hit[hit] = bins[where[hit]] == fine[hit]
    low = (keys[hit] & np.uint32((1 << LOW_BITS) - 1)).astype(np.intp)
    return np.bincount(where[hit] * (1 << LOW_BITS) + low, minlength=len(bins) << LOW_BITS).reshape(len(bins), -1)


def largest_float32_at_most(values: np.ndarray) -> np.ndarray:
    """For each float64 value, the largest float32 not above it: for a float32 map value v, v > c
    exactly when v is above this."""
    values = np.asarray(values, dtype=np.float64)
    rounded = values.astype(np.float32)
    return np.where(rounded > values, np.nextafter(rounded, np.float32(-np.inf)), rounded).astype(np.float32)


def ranked_value(bin_index: int, low_histogram: np.ndarray, rank_inside: int) -> tuple[float, int]:
    """The value of descending rank `rank_inside` among the values of one bin (their low-bit
    histogram), and how many of the bin's values are greater than it."""
    from_top = np.cumsum(low_histogram[::-1])
    position = int(np.searchsorted(from_top, rank_inside, side="right"))
    low = len(low_histogram) - 1 - position
    key = np.uint32((bin_index << LOW_BITS) | low)
    return float(key_values(np.array([key]))[0]), int(from_top[position - 1]) if position else 0
