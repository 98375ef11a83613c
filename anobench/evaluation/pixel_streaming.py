"""The pixel protocol over a stored run too large to hold in memory: the metrics of
`pixel_protocol.pixel_scores`, gathered chunk by chunk in two passes over the maps and masks, in
memory that does not grow with the number of cases beyond a few numbers per case.

- First pass: histograms of the map values over fine bins (`binned`), of all pixels and of lesion
  pixels, per lesion-size bin; per case, its pixels above the calibrated threshold (chosen before,
  exactly, on the healthy split: `calibration.streamed_threshold`) and, on the paper's grid, its
  counts above each of the 101 thresholds. The point values come from these.
- Second pass: per case, its pixels above the oracle threshold the first pass chose (per-case Dice,
  for the Wilcoxon test and per-subject tables), and its counts at the bootstrap's cuts; each chunk's
  counts are weighted by the resamples of its cases at once (`bootstrap.Resampler`), so resampled
  curves are sums over chunks and no case's counts are kept.

`binned` (the search where `exact` would hold every pixel): the oracle max-Dice is the best Dice at
a fine bin's floor — an exact Dice at an exact threshold — with a bound on how much higher the exact
maximum can be; AUPRC takes the pixels of a bin as tied, with the lowest and highest value any order
inside the bins would give. A bootstrap resample is searched at `RESAMPLED_CUTS` cuts per lesion-size
bin at evenly spaced ranks of its lesion pixels. `grid` (the THOR paper's 101 thresholds) is exact at
its grid; the calibrated Dice and its intervals are exact in both.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterator

import numpy as np

from anobench.evaluation.binned import (
    FINE_BINS,
    LOW_BITS,
    above,
    coarse_cuts,
    cut_lookup,
    dice_bounds,
    fine_bins,
    largest_float32_at_most,
    order_keys,
    precision_bounds,
)
from anobench.evaluation.bootstrap import Estimate, Resampler, interval
from anobench.evaluation.calibration import HEALTHY_FPR, streamed_threshold
from anobench.evaluation.pixel_metrics import DICE_EPSILON, THRESHOLDS, MaxDice, dice_curve, pooled_from_cuts
from anobench.store.results import StoredResults
from anobench.store.rows import SIZE_BINS

BIN_NAMES = [name for name, _, _ in SIZE_BINS]
GROUPS = [*BIN_NAMES, "all"]
RESAMPLED_CUTS = 2048  # cuts per lesion-size bin a bootstrap resample of the binned search is searched at
CURVE_POINTS = 4096  # points of the precision-recall curve a report draws
CASE_COUNTS = ("lesion", "predicted", "true", "calibrated predicted", "calibrated true")


@dataclass(frozen=True)
class Calibration:
    threshold: float
    healthy_fpr: float
    dice: Estimate
    samples: np.ndarray
    case_dice: np.ndarray


@dataclass(frozen=True)
class StreamedScores:
    """What the two passes give, in the shape of `pixel_protocol.PixelScores`; `bounds`: metric →
    (lowest, highest) value the exact search could give, for the binned values."""

    dice: dict[str, MaxDice]
    auprc: float
    intervals: dict[str, Estimate]
    resampled: dict[str, np.ndarray]
    case_dice: np.ndarray
    calibrated: Calibration | None
    bounds: dict[str, tuple[float, float]]
    case_counts: dict[str, np.ndarray]  # per case (board order): CASE_COUNTS
    pr_curve: tuple[np.ndarray, np.ndarray]  # recall, precision at up to `CURVE_POINTS` bin floors


@dataclass
class _Chunk:
    """One chunk of the board's scored cases, flattened."""

    board: np.ndarray  # positions on the board
    group: np.ndarray  # lesion-size bin index of each case
    maps: np.ndarray  # c × P float32
    inside: np.ndarray  # c × P bool
    fine: np.ndarray  # c × P fine bins

    def members(self, group: str) -> np.ndarray:
        return np.ones(len(self.board), bool) if group == "all" else self.group == GROUPS.index(group)


@dataclass
class _Sums:
    """Resampled sums over the chunks of the second pass, by key: gained (lesion pixels) and counted
    (all pixels) per cut or threshold, and lesion pixels, each per resample."""

    gained: dict[str, np.ndarray] = field(default_factory=dict)
    counted: dict[str, np.ndarray] = field(default_factory=dict)
    lesion: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, key: str, gained: np.ndarray, counted: np.ndarray, lesion: np.ndarray) -> None:
        for store, value in ((self.gained, gained), (self.counted, counted), (self.lesion, lesion)):
            store[key] = store[key] + value if key in store else value


def stream_pixel_scores(
    stored: StoredResults,
    positions: np.ndarray,
    groups: np.ndarray,
    resampler: Resampler,
    thresholds: str,
    healthy: StoredResults | None,
) -> StreamedScores:
    """The pixel protocol on the board's cases: `positions` (the stored rows of the board's cases, in
    board order), `groups` (each one's lesion-size bin index, −1 when not scored); `thresholds`:
    binned or grid."""
    cases, pixels = len(positions), stored.pixels_per_case
    board_of_row = np.full(len(stored.rows), -1, np.int64)
    board_of_row[positions] = np.arange(cases)
    scored_rows = np.sort(positions[groups >= 0])

    def chunks() -> Iterator[_Chunk]:
        for rows, arrays in stored.iterate(["maps", "masks"], scored_rows):
            board = board_of_row[rows]
            maps = arrays["maps"].reshape(len(rows), pixels)
            yield _Chunk(board, groups[board], maps, arrays["masks"].reshape(len(rows), pixels), fine_bins(maps))

    calibration = None
    if healthy is not None:
        healthy_maps = lambda: (arrays["maps"] for _, arrays in healthy.iterate(["maps"]))  # noqa: E731
        calibration = streamed_threshold(healthy_maps, HEALTHY_FPR, None if thresholds == "binned" else THRESHOLDS)
    counts = {name: np.zeros(cases, np.int64) for name in CASE_COUNTS}
    histograms = np.zeros((2, len(BIN_NAMES), FINE_BINS), np.int64)  # all pixels, lesion pixels
    grid = np.zeros((2, len(BIN_NAMES), len(THRESHOLDS)), np.int64)  # predicted, true positive above each τ
    levels = _grid_levels() if thresholds == "grid" else None
    for chunk in chunks():  # first pass
        offsets = chunk.group[:, None] * FINE_BINS + chunk.fine
        histograms[0] += np.bincount(offsets.ravel(), minlength=histograms[0].size).reshape(histograms[0].shape)
        histograms[1] += np.bincount(offsets[chunk.inside], minlength=histograms[1].size).reshape(histograms[1].shape)
        counts["lesion"][chunk.board] = chunk.inside.sum(axis=1)
        if calibration is not None:
            anomalous = chunk.maps > calibration[0]
            counts["calibrated predicted"][chunk.board] = anomalous.sum(axis=1)
            counts["calibrated true"][chunk.board] = (anomalous & chunk.inside).sum(axis=1)
        if levels is not None:
            predicted, true = _grid_counts(chunk, levels)
            np.add.at(grid[0], chunk.group, predicted)
            np.add.at(grid[1], chunk.group, true)
    dice, auprc, bounds, cuts = _point_values(histograms, grid, thresholds)
    lookups = {name: (cut_lookup(c), len(c)) for name, c in cuts.items()}
    sums = _Sums()
    for chunk in chunks():  # second pass
        weights = resampler.weights(chunk.board).astype(np.float64)
        oracle = dice["all"]
        if np.isnan(oracle.threshold):
            above = np.zeros(chunk.maps.shape, bool)
        else:
            above = chunk.fine >= oracle.bin if thresholds == "binned" else chunk.maps > oracle.threshold
        counts["predicted"][chunk.board] = above.sum(axis=1)
        counts["true"][chunk.board] = (above & chunk.inside).sum(axis=1)
        _accumulate(sums, chunk, weights, counts, lookups, levels, calibration is not None)
    scores = _scores(dice, auprc, bounds, sums, counts, groups, calibration, thresholds, resampler.resamples)
    return replace(scores, pr_curve=_pr_curve(histograms))


def _grid_levels() -> tuple[np.ndarray, np.ndarray]:
    """For every fine bin, the grid thresholds entirely below it, and the low key bits of the one
    threshold inside it (2^12 when none): a value's level — how many thresholds lie below it — is
    then base[bin] + (low bits > inside[bin])."""
    keys = order_keys(largest_float32_at_most(THRESHOLDS))
    bins = (keys >> np.uint32(LOW_BITS)).astype(np.intp)
    if len(np.unique(bins)) != len(bins):
        raise AssertionError("two grid thresholds share a fine bin")
    base = np.searchsorted(bins, np.arange(FINE_BINS), side="left").astype(np.int16)
    inside = np.full(FINE_BINS, 1 << LOW_BITS, np.int32)
    inside[bins] = (keys & np.uint32((1 << LOW_BITS) - 1)).astype(np.int32)
    return base, inside


def _grid_counts(chunk: _Chunk, levels: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per case, pixels (and lesion pixels) above each grid threshold, c × 101: map > τ_k."""
    base, inside = levels
    low = (order_keys(chunk.maps) & np.uint32((1 << LOW_BITS) - 1)).astype(np.int32)
    level = base[chunk.fine] + (low > inside[chunk.fine])
    size = len(THRESHOLDS) + 1
    offsets = np.arange(len(level))[:, None] * size + level

    def above_each(histogram: np.ndarray) -> np.ndarray:  # Σ_{l > k} per case
        return np.cumsum(histogram.reshape(len(level), size)[:, ::-1], axis=1)[:, ::-1][:, 1:]

    every = above_each(np.bincount(offsets.ravel(), minlength=len(level) * size))
    return every, above_each(np.bincount(offsets[chunk.inside], minlength=len(level) * size))


@dataclass(frozen=True)
class _Oracle(MaxDice):
    bin: int = -1  # the fine bin of a binned threshold


def _point_values(
    histograms: np.ndarray, grid: np.ndarray, thresholds: str
) -> tuple[dict[str, _Oracle], float, dict[str, tuple[float, float]], dict[str, np.ndarray]]:
    """Max-Dice per lesion-size bin and over all (binned with its bounds, or on the grid), AUPRC (its
    bins' pixels tied) with its bounds, and the cuts each group's bootstrap resamples are searched at
    (on the grid: "all", for AUPRC's)."""
    dice, bounds, cuts = {}, {}, {}
    for group, name in enumerate(GROUPS):
        whole = name == "all"
        every, lesion = histograms.sum(axis=1) if whole else histograms[:, group]
        if thresholds == "binned":
            best = dice_bounds(lesion, every)
            dice[name] = _Oracle(best.dice, best.threshold, best.bin)
            bounds[f"dice {name}"] = (best.dice, best.upper)
        else:
            predicted, true = grid.sum(axis=1) if whole else grid[:, group]
            curve = dice_curve(predicted, true, int(lesion.sum()))
            index = int(np.argmax(curve))
            dice[name] = _Oracle(float(curve[index]) if lesion.sum() else float("nan"), float(THRESHOLDS[index]))
        if thresholds == "binned" or whole:
            cuts[name] = coarse_cuts(lesion, RESAMPLED_CUTS)
    every, lesion = histograms.sum(axis=1)
    auprc, lowest, highest = precision_bounds(lesion, every)
    bounds["auprc"] = (lowest, highest)
    return dice, auprc, bounds, cuts


def _pr_curve(histograms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Recall and precision of the pooled pixels at the floors of up to `CURVE_POINTS` lesion bins."""
    every, lesion = (above(h) for h in histograms.sum(axis=1))
    at = coarse_cuts(histograms[1].sum(axis=0), CURVE_POINTS)
    if not len(at):
        return np.zeros(0), np.zeros(0)
    return lesion[at] / lesion[0], lesion[at] / every[at]


def _accumulate(
    sums: _Sums,
    chunk: _Chunk,
    weights: np.ndarray,
    counts: dict[str, np.ndarray],
    lookups: dict[str, tuple[np.ndarray, int]],
    levels: tuple[np.ndarray, np.ndarray] | None,
    calibrating: bool,
) -> None:
    """Add one chunk's counts, weighted by its cases' resamples, to the resampled sums."""
    lesion = counts["lesion"][chunk.board].astype(np.float64)
    for name, (lookup, size) in lookups.items():  # cuts × resamples
        members = chunk.members(name)
        if not members.any():
            continue
        offsets = np.arange(int(members.sum()))[:, None] * (size + 1) + lookup[chunk.fine[members]]
        drawn = weights[:, members]
        sums.add(
            name,
            _per_cut(offsets[chunk.inside[members]], len(offsets), size) @ drawn.T,
            _per_cut(offsets.ravel(), len(offsets), size) @ drawn.T,
            drawn @ lesion[members],
        )
    if levels is not None:  # resamples × thresholds: on the grid every threshold is a cut
        predicted, true = _grid_counts(chunk, levels)
        for name in GROUPS:
            members = chunk.members(name)
            drawn = weights[:, members]
            sums.add(f"grid {name}", drawn @ true[members], drawn @ predicted[members], drawn @ lesion[members])
    if calibrating:
        sums.add(
            "calibrated",
            weights @ counts["calibrated true"][chunk.board],
            weights @ counts["calibrated predicted"][chunk.board],
            weights @ lesion,
        )


def _per_cut(offsets: np.ndarray, cases: int, size: int) -> np.ndarray:
    """cuts × cases pixel counts from offsets case · (size + 1) + cut (cut = size: below every cut, dropped)."""
    counts = np.bincount(offsets, minlength=cases * (size + 1)).reshape(cases, size + 1)
    return counts[:, :size].T.astype(np.float64)


def _scores(
    dice: dict[str, _Oracle],
    auprc: float,
    bounds: dict[str, tuple[float, float]],
    sums: _Sums,
    counts: dict[str, np.ndarray],
    groups: np.ndarray,
    calibration: tuple[float, float] | None,
    thresholds: str,
    resamples: int,
) -> StreamedScores:
    """The point values with their resamples and intervals, per-case Dice and the calibrated Dice."""
    nothing = np.full(resamples, np.nan)
    resampled, intervals = {}, {}
    for name in GROUPS:
        key = name if thresholds == "binned" else f"grid {name}"
        if key not in sums.lesion:
            samples = nothing
        elif thresholds == "binned":
            samples = pooled_from_cuts(sums.gained[key], sums.counted[key], sums.lesion[key])[0]
        else:
            with np.errstate(invalid="ignore"):
                curves = 2 * sums.gained[key] / (sums.counted[key] + sums.lesion[key][:, None] + DICE_EPSILON)
            curves[sums.lesion[key] == 0] = np.nan
            samples = curves.max(axis=1)
        resampled[f"dice {name}"] = samples
        intervals[f"dice {name}"] = interval(dice[name].dice, samples)
    found = "all" in sums.lesion
    resampled["auprc"] = (
        pooled_from_cuts(sums.gained["all"], sums.counted["all"], sums.lesion["all"])[2] if found else nothing
    )
    intervals["auprc"] = interval(auprc, resampled["auprc"])
    scored = groups >= 0
    calibrated = None
    if calibration is not None:
        lesion = counts["lesion"][scored].sum()
        predicted, true = counts["calibrated predicted"], counts["calibrated true"]
        value = float(dice_curve(predicted.sum(), true.sum(), lesion)) if lesion else float("nan")
        samples = nothing
        if "calibrated" in sums.lesion:
            drawn = sums.lesion["calibrated"]
            with np.errstate(invalid="ignore"):
                pooled = dice_curve(sums.counted["calibrated"], sums.gained["calibrated"], drawn)
                samples = np.where(drawn > 0, pooled, np.nan)
        case_dice = np.where(scored, dice_curve(predicted, true, counts["lesion"]), np.nan)
        calibrated = Calibration(calibration[0], calibration[1], interval(value, samples), samples, case_dice)
        resampled["dice calibrated"], intervals["dice calibrated"] = samples, calibrated.dice
    return StreamedScores(
        {name: MaxDice(d.dice, d.threshold) for name, d in dice.items()},
        auprc,
        intervals,
        resampled,
        np.where(scored, dice_curve(counts["predicted"], counts["true"], counts["lesion"]), np.nan),
        calibrated,
        bounds,
        counts,
        (np.zeros(0), np.zeros(0)),
    )
