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

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anobench.errors import AnobenchError
from anobench.evaluation.binned import EXACT_BYTES_PER_PIXEL, EXACT_PIXELS, run_pixels
from anobench.evaluation.bootstrap import (
    RESAMPLES,
    SEED,
    Estimate,
    PoissonResampler,
    Resampler,
    clusters_of,
    interval,
    pooled_dice_curves,
    resample_counts,
    resampler_for,
)
from anobench.evaluation.calibration import HEALTHY_FPR, calibrated_threshold
from anobench.evaluation.fidelity import Fidelity, fidelity_of
from anobench.evaluation.identity import RunIdentity, run_identity
from anobench.evaluation.pixel_metrics import (
    DICE_EPSILON,
    THRESHOLDS,
    MaxDice,
    RankedPixels,
    dice_curve,
    pooled_max_dice,
    pooled_scores,
    rank_pixels,
    stacked_counts,
    threshold_counts,
)
from anobench.evaluation.pixel_streaming import stream_pixel_scores
from anobench.store import folder as store
from anobench.store.results import StoredResults, open_results
from anobench.store.rows import CASES, SIZE_BINS

BIN_NAMES = [name for name, _, _ in SIZE_BINS]
THRESHOLD_MODES = ("exact", "grid", "binned")
AUTO = "auto"  # exact while a run fits in memory, binned beyond (`resolve_thresholds`)
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
    # per case (0 when not scored): "lesion" pixels, "predicted" and "true" (positive) pixels at the
    # pooled "all" threshold, "calibrated predicted" and "calibrated true" at the calibrated one
    case_counts: dict[str, np.ndarray] = field(default_factory=dict)


def pixel_scores(
    maps: np.ndarray,
    masks: np.ndarray,
    size_bins: np.ndarray,
    weights: np.ndarray,
    thresholds: str = "exact",
    healthy_maps: np.ndarray | None = None,
    healthy_split: str = "",
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
    searched: dict[str, tuple[MaxDice, np.ndarray, tuple[float, np.ndarray]]] = {}
    for name in [*BIN_NAMES, "all"]:
        members = scored if name == "all" else np.array([b == name for b in size_bins], dtype=bool)
        cases_per_bin[name] = int(members.sum())
        if thresholds == "exact" or name == "all":  # "all" also gives AUPRC, exact in either mode
            within = np.ones(len(in_bins), bool) if name == "all" else in_bins == name
            searched[name] = _pooled_exact(ranked, within, weights[:, members])
        if thresholds == "grid":
            dice[name], resampled[f"dice {name}"] = _pooled_grid(maps[members], masks[members], weights[:, members])
        else:
            dice[name], resampled[f"dice {name}"] = searched[name][0], searched[name][1]
        intervals[f"dice {name}"] = interval(dice[name].dice, resampled[f"dice {name}"])
    auprc, resampled["auprc"] = searched["all"][2]
    intervals["auprc"] = interval(auprc, resampled["auprc"])
    anomalous = _at(maps, dice["all"].threshold, inclusive=thresholds == "exact")
    counts = _case_counts(anomalous, masks, scored, "")
    case_dice = np.where(scored, dice_curve(counts["predicted"], counts["true"], counts["lesion"]), np.nan)
    calibrated = None
    if healthy_maps is not None:
        lesion = counts["lesion"]
        calibrated, at_threshold = _calibrated(
            maps, masks, scored, lesion, weights, healthy_maps, thresholds, healthy_split
        )
        intervals["dice calibrated"], resampled["dice calibrated"] = calibrated.dice, calibrated.samples
        counts.update(at_threshold)
    return PixelScores(dice, cases_per_bin, auprc, intervals, resampled, case_dice, calibrated, counts)


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


def _case_counts(anomalous: np.ndarray, masks: np.ndarray, scored: np.ndarray, prefix: str) -> dict[str, np.ndarray]:
    """Per case: its lesion pixels, and its `anomalous` pixels and those inside the lesion (0 when not scored)."""
    flat = anomalous.reshape(len(anomalous), int(np.prod(anomalous.shape[1:]))) & scored[:, None]
    inside = masks.reshape(flat.shape) & scored[:, None]
    counts = {f"{prefix}predicted": flat.sum(axis=1), f"{prefix}true": (flat & inside).sum(axis=1)}
    return counts if prefix else {"lesion": inside.sum(axis=1), **counts}


def _calibrated(
    maps: np.ndarray,
    masks: np.ndarray,
    scored: np.ndarray,
    lesion: np.ndarray,
    weights: np.ndarray,
    healthy_maps: np.ndarray,
    thresholds: str,
    split: str,
) -> tuple[Calibrated, dict[str, np.ndarray]]:
    """The calibrated Dice (`lesion`: each case's scored lesion pixels), and the per-case counts at its
    threshold (`_case_counts`)."""
    tau, fpr = calibrated_threshold(healthy_maps, HEALTHY_FPR, None if thresholds == "exact" else THRESHOLDS)
    counts = _case_counts(maps > tau, masks, scored, "calibrated ")
    predicted, true_positive = counts["calibrated predicted"], counts["calibrated true"]
    value = float(dice_curve(predicted.sum(), true_positive.sum(), lesion.sum())) if lesion.sum() else float("nan")
    w = weights.astype(np.float64)
    pooled_lesion = w @ lesion
    with np.errstate(invalid="ignore"):
        samples = np.where(pooled_lesion > 0, dice_curve(w @ predicted, w @ true_positive, pooled_lesion), np.nan)
    case_dice = np.where(scored, dice_curve(predicted, true_positive, lesion), np.nan)
    return Calibrated(tau, fpr, interval(value, samples), split, samples, case_dice), counts


@dataclass(frozen=True, kw_only=True)
class RunMetrics(PixelScores):
    """The pixel protocol's scores of one run, on the cases `case_ids`, and the run they belong to."""

    run: RunIdentity
    case_ids: tuple[str, ...]
    bootstrap_unit: str  # "cases" or "subjects"
    thresholds: str = "exact"  # how max-Dice and the calibrated τ were searched (THRESHOLD_MODES)
    seed_values: tuple[float, ...] = ()  # Dice all of every inference seed, when the run was repeated (merge_seeds)
    training_seed_values: tuple[float, ...] = ()  # Dice all of every training seed (merge_training_seeds)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)  # binned: where the exact value lies
    resampling: str = "multinomial"  # the bootstrap's draws: multinomial, or poisson on large boards
    pr_curve: tuple[np.ndarray, np.ndarray] | None = None  # recall, precision: runs read in chunks (reports)
    subject_ids: tuple[str | None, ...] = ()  # of the cases, in `case_ids` order
    fidelity: Fidelity | None = None  # restoration of the healthy cases scored with the run

    @property
    def headline(self) -> float:
        return self.intervals["dice all"].value  # the mean over training seeds of a merged row


def resolve_thresholds(folders: list[Path], thresholds: str) -> str:
    """The threshold search of a board: `auto` is exact while every run fits in memory (`EXACT_PIXELS`),
    binned beyond; exact asked for a run that does not fit is refused, naming the way that does."""
    known = (*THRESHOLD_MODES, AUTO)
    if thresholds not in known:
        raise AnobenchError(f"unknown threshold search {thresholds!r}; available: {', '.join(known)}")
    if thresholds not in ("exact", AUTO):
        return thresholds
    largest, folder = max((run_pixels(folder), folder) for folder in folders)
    if largest <= EXACT_PIXELS:
        return "exact"
    if thresholds == AUTO:
        return "binned"
    raise AnobenchError(
        f"the exact threshold search holds every pixel of a run in memory, and run {folder} has {largest:,} "
        f"(about {largest * EXACT_BYTES_PER_PIXEL / 2**30:.0f} GiB); use --thresholds binned (bounded memory, the "
        "board states its bounds) or auto"
    )


def evaluate_run(
    folder: Path,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    cases: tuple[str, ...] | None = None,
    thresholds: str = AUTO,
) -> RunMetrics:
    """A mask run's metrics, on the listed `cases` only when given (a board's common cases); `thresholds`:
    exact (every distinct map value, in memory), grid (the paper's 101 values) or binned (fine bins,
    bounded memory); `auto` as `resolve_thresholds` decides for this run alone."""
    thresholds = resolve_thresholds([folder], thresholds)
    store.check_complete(folder)
    config = store.read_json(folder / store.CONFIG)
    provenance = store.read_json(folder / store.PROVENANCE)
    stored = open_results(folder)
    positions = stored.positions_of(cases) if cases is not None else np.arange(len(stored.rows))
    if not stored.has("masks"):
        raise AnobenchError(f"run {folder} has no masks: its split ({config['split']}) is not annotated")
    rows = stored.rows.iloc[positions].reset_index(drop=True)
    clusters = clusters_of(rows["subject_id"].tolist())
    healthy = open_results(folder / store.HEALTHY) if (folder / store.HEALTHY / CASES).is_file() else None
    # None for slices not scored (≤ 3 lesion pixels): pandas' string columns read them back as NaN
    size_bins = np.array([b if isinstance(b, str) else None for b in rows["size_bin"]], dtype=object)
    in_memory = thresholds == "exact" or (thresholds == "grid" and run_pixels(folder) <= EXACT_PIXELS)
    if in_memory:
        arrays = stored.gather(["maps", "masks"], positions)
        healthy_maps = healthy.gather(["maps"], np.arange(len(healthy.rows)))["maps"] if healthy else None
        weights = resample_counts(len(rows), resamples, seed, clusters)
        split = str(config.get("healthy_split"))
        scores = pixel_scores(arrays["maps"], arrays["masks"], size_bins, weights, thresholds, healthy_maps, split)
        bounds: dict[str, tuple[float, float]] = {}
        resampling, pr_curve = "multinomial", None
    else:
        resampler = resampler_for(len(rows), resamples, seed, clusters)
        scores, bounds, pr_curve = _streamed(stored, positions, size_bins, resampler, thresholds, healthy, config)
        resampling = "poisson" if isinstance(resampler, PoissonResampler) else "multinomial"
    return RunMetrics(
        **vars(scores),
        run=run_identity(folder, config, provenance, rows),
        case_ids=tuple(rows["case_id"]),
        bootstrap_unit="subjects" if clusters is not None else "cases",
        thresholds=thresholds,
        bounds=bounds,
        resampling=resampling,
        pr_curve=pr_curve,
        subject_ids=tuple(s if isinstance(s, str) else None for s in rows["subject_id"]),
        fidelity=fidelity_of(folder),
    )


def _streamed(
    stored: StoredResults,
    positions: np.ndarray,
    size_bins: np.ndarray,
    resampler: Resampler,
    thresholds: str,
    healthy: StoredResults | None,
    config: dict[str, object],
) -> tuple[PixelScores, dict[str, tuple[float, float]], tuple[np.ndarray, np.ndarray]]:
    """The protocol in two passes over the chunks (`pixel_streaming`), as `PixelScores`."""
    groups = np.array([BIN_NAMES.index(b) if b is not None else -1 for b in size_bins], dtype=np.int64)
    streamed = stream_pixel_scores(stored, positions, groups, resampler, thresholds, healthy)
    calibrated = None
    if streamed.calibrated is not None:
        c = streamed.calibrated
        split = str(config.get("healthy_split"))
        calibrated = Calibrated(c.threshold, c.healthy_fpr, c.dice, split, c.samples, c.case_dice)
    cases_per_bin = {name: int(np.sum(groups == index)) for index, name in enumerate(BIN_NAMES)}
    cases_per_bin["all"] = int(np.sum(groups >= 0))
    scores = PixelScores(
        streamed.dice,
        cases_per_bin,
        streamed.auprc,
        streamed.intervals,
        streamed.resampled,
        streamed.case_dice,
        calibrated,
        {name: values for name, values in streamed.case_counts.items() if calibrated or "calibrated" not in name},
    )
    return scores, streamed.bounds, streamed.pr_curve
