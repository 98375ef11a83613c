"""The pixel protocol of a board: pooled max-Dice per lesion-size bin, AUPRC and calibrated Dice,
each with its bootstrap resamples, from a run's maps and masks.

Thresholds are `exact` by default: max-Dice is taken over every distinct map value (cut s calls
anomalous each pixel with map ≥ τ_s; see `metrics.LesionCuts`), and the calibrated threshold is the
lowest map value leaving at most 5 % of the healthy pixels above it. `grid` is the THOR paper's
protocol, kept for comparison with its numbers: τ ∈ {0, 0.01, …, 1}, anomalous where map > τ. It
loses accuracy when maps span a small range. Either way each bootstrap resample recomputes the
metric as the value shown is computed, so every interval belongs to its value; with more than
`RESAMPLED_CUTS` distinct lesion values, the resamples of the exact search use that many of them at
evenly spaced ranks (pixels between two count as tied: each gap holds at most 1/8192 of the lesion
values), which keeps a 1,000-resample board within seconds and moves its numbers by far less than
the interval's width (`tests/test_pixel_protocol.py` bounds it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anobench.box_metrics import healthy_fpr_threshold
from anobench.metrics import (
    DICE_EPSILON, SIZE_BINS, THRESHOLDS, MaxDice, RankedPixels, dice_curve, pooled_max_dice, pooled_scores,
    rank_pixels,
    stacked_counts, threshold_counts,
)
from anobench.stats import Estimate, interval, pooled_dice_curves

BIN_NAMES = [name for name, _, _ in SIZE_BINS]
THRESHOLD_MODES = ("exact", "grid")
CALIBRATED_FPR = 0.05  # share of healthy validation pixels allowed above the calibrated threshold
RESAMPLED_CUTS = 8192  # most candidate thresholds per bootstrap resample of the exact search


@dataclass(frozen=True)
class Calibrated:
    """Dice at a threshold chosen without the test labels: ≤ 5 % of healthy validation pixels above it."""

    threshold: float
    healthy_fpr: float
    dice: Estimate
    split: str
    samples: np.ndarray  # Dice at the threshold in each bootstrap resample
    case_dice: np.ndarray  # per case Dice at the threshold (NaN: not scored)


@dataclass(frozen=True)
class PixelScores:
    dice: dict[str, MaxDice]  # per bin and "all"
    cases_per_bin: dict[str, int]
    auprc: float
    intervals: dict[str, Estimate]  # "dice <bin>", "dice all", "auprc" (and "dice calibrated")
    resampled: dict[str, np.ndarray]  # the same keys: the metric in each bootstrap resample
    case_dice: np.ndarray  # per case Dice at the pooled "all" threshold (NaN: not scored)
    calibrated: Calibrated | None


def pixel_scores(
    maps: np.ndarray, masks: np.ndarray, size_bins: np.ndarray, weights: np.ndarray, thresholds: str = "exact",
    healthy_maps: np.ndarray | None = None, healthy_split: str = "",
) -> PixelScores:
    """The protocol on N cases (`size_bins`: each case's bin name, None when not scored) under the R×N
    bootstrap `weights`; `healthy_maps` (healthy cases scored with the run) give the calibrated Dice."""
    if thresholds not in THRESHOLD_MODES:
        raise ValueError(f"thresholds must be one of {THRESHOLD_MODES}, got {thresholds!r}")
    size_bins = np.asarray(size_bins, dtype=object)
    scored = np.array([b is not None for b in size_bins], dtype=bool)
    dice: dict[str, MaxDice] = {}
    cases_per_bin: dict[str, int] = {}
    intervals: dict[str, Estimate] = {}
    resampled: dict[str, np.ndarray] = {}
    ranked = rank_pixels(maps[scored], masks[scored])  # one ranking of the scored pixels serves every bin
    in_bins = np.asarray(size_bins[scored])
    for name in [*BIN_NAMES, "all"]:
        members = scored if name == "all" else np.array([b == name for b in size_bins], dtype=bool)
        cases_per_bin[name] = int(members.sum())
        exact = _pooled_exact(ranked, np.ones(len(in_bins), bool) if name == "all" else in_bins == name,
                              weights[:, members])
        if thresholds == "grid":
            dice[name], resampled[f"dice {name}"] = _pooled_grid(maps[members], masks[members], weights[:, members])
        else:
            dice[name], resampled[f"dice {name}"] = exact[0], exact[1]
        intervals[f"dice {name}"] = interval(dice[name].dice, resampled[f"dice {name}"])
    auprc, resampled["auprc"] = exact[2]  # of the last bin, "all": AUPRC is exact in either mode
    intervals["auprc"] = interval(auprc, resampled["auprc"])
    anomalous = _at(maps, dice["all"].threshold, inclusive=thresholds == "exact")
    case_dice = np.where(scored, _case_dice(anomalous, masks), np.nan)
    calibrated = None
    if healthy_maps is not None:
        calibrated = _calibrated(maps, masks, scored, weights, healthy_maps, thresholds, healthy_split)
        intervals["dice calibrated"], resampled["dice calibrated"] = calibrated.dice, calibrated.samples
    return PixelScores(dice, cases_per_bin, auprc, intervals, resampled, case_dice, calibrated)


def _pooled_exact(
    ranked: RankedPixels, members: np.ndarray, weights: np.ndarray
) -> tuple[MaxDice, np.ndarray, tuple[float, np.ndarray]]:
    """Max-Dice (value, its resamples) and AUPRC (value, its resamples) of the members, searched exactly."""
    point = pooled_scores(ranked, members)
    samples = pooled_scores(ranked, members, weights, RESAMPLED_CUTS)
    value = MaxDice(float(point.dice[0]), float(point.threshold[0]))
    return value, samples.dice, (float(point.average_precision[0]), samples.average_precision)


def _pooled_grid(maps: np.ndarray, masks: np.ndarray, weights: np.ndarray) -> tuple[MaxDice, np.ndarray]:
    """Max-Dice on the paper's grid (value, its resamples)."""
    counts = [threshold_counts(m, g) for m, g in zip(maps, masks)]
    if not counts:
        return pooled_max_dice(counts), np.full(len(weights), np.nan)
    return pooled_max_dice(counts), pooled_dice_curves(weights, *stacked_counts(counts), DICE_EPSILON).max(axis=1)


def _at(maps: np.ndarray, threshold: float, inclusive: bool) -> np.ndarray:
    """Which pixels are anomalous at `threshold`: map ≥ τ (exact cuts) or map > τ (the grid, calibration)."""
    if np.isnan(threshold):
        return np.zeros(maps.shape, dtype=bool)
    return maps >= threshold if inclusive else maps > threshold


def _case_dice(anomalous: np.ndarray, masks: np.ndarray) -> np.ndarray:
    flat = anomalous.reshape(len(anomalous), int(np.prod(anomalous.shape[1:])))
    inside = masks.reshape(flat.shape)
    return dice_curve(flat.sum(axis=1), (flat & inside).sum(axis=1), inside.sum(axis=1))


def calibrated_threshold(healthy_maps: np.ndarray, target: float = CALIBRATED_FPR) -> tuple[float, float]:
    """(τ, share of healthy pixels with map > τ): the lowest healthy map value leaving at most `target` of
    the pixels above it, so the share is the largest one not above the target."""
    values = np.sort(np.asarray(healthy_maps, dtype=np.float64).ravel())[::-1]
    allowed = int(np.floor(target * len(values) + 1e-9))  # pixels that may lie above τ
    tau = values[min(allowed, len(values) - 1)]
    return float(tau), float(np.count_nonzero(values > tau) / len(values))


def _calibrated(
    maps: np.ndarray, masks: np.ndarray, scored: np.ndarray, weights: np.ndarray, healthy_maps: np.ndarray,
    thresholds: str, split: str,
) -> Calibrated:
    if thresholds == "exact":
        tau, fpr = calibrated_threshold(healthy_maps)
    else:
        tau, fpr = healthy_fpr_threshold(healthy_maps, CALIBRATED_FPR, THRESHOLDS)
    pixels = int(np.prod(maps.shape[1:]))
    anomalous = (maps > tau).reshape(len(maps), pixels) & scored[:, None]
    inside = masks.reshape(len(masks), pixels) & scored[:, None]
    predicted, true_positive, lesion = anomalous.sum(axis=1), (anomalous & inside).sum(axis=1), inside.sum(axis=1)
    value = float(dice_curve(predicted.sum(), true_positive.sum(), lesion.sum())) if lesion.sum() else float("nan")
    w = weights.astype(np.float64)
    pooled_lesion = w @ lesion
    with np.errstate(invalid="ignore"):
        samples = np.where(pooled_lesion > 0, dice_curve(w @ predicted, w @ true_positive, pooled_lesion), np.nan)
    case_dice = np.where(scored, dice_curve(predicted, true_positive, lesion), np.nan)
    return Calibrated(tau, fpr, interval(value, samples), split, samples, case_dice)
