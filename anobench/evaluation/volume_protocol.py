"""The volume protocol: how the rest of the field scores brain UAD (the Behrendt releases, UAD-IMAG,
Metrics Reloaded), from the same run folders as the THOR paper's slice protocol.

Per subject, its slices stacked into its volume (`volumes`), everything inside the brain mask:
Dice at thresholds chosen on healthy brain voxels only (the lowest map value leaving at most 1 % and
5 % of the healthy validation subjects' brain voxels above it), the best Dice over every threshold,
average precision; lesion-wise detection at each threshold; the false-positive rate each threshold
leaves on the held-out healthy subjects; subject- and slice-level detection (AUROC, AP) against
those healthy subjects. Every measure twice: on the maps as they are, and after the releases' 3-D
post-processing (median filter 5×5×5 before thresholding, the thresholds then chosen on filtered
healthy maps too; components of at most 7 voxels removed after it). Intervals: bootstrap over
subjects (slices and subjects, healthy and not, resampled apart for detection).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from anobench.errors import AnobenchError
from anobench.evaluation.binned import FINE_BINS, fine_bins, precision_bounds
from anobench.evaluation.bootstrap import RESAMPLES, SEED, Estimate, interval, resample_counts
from anobench.evaluation.calibration import streamed_threshold
from anobench.evaluation.detection import detection_scores
from anobench.evaluation.identity import RunIdentity, run_identity
from anobench.evaluation.volumes import (
    LESION_SIZE_BINS,
    LesionCounts,
    SubjectVolume,
    best_dice_and_precision,
    dice,
    false_positive_rate,
    lesion_counts,
    median_filtered,
    ordered_map,
    subject_volumes,
    subjects_of,
    top_mean,
    without_small_components,
)
from anobench.store import folder as store
from anobench.store.results import StoredResults, open_results

FPR_TARGETS = (0.01, 0.05)  # healthy brain voxels a threshold may leave above it (UAD-IMAG: 1 %)
VARIANTS = ("raw", "post-processed")
LESION_TOTALS = ("lesions", "found", "predicted", "false_positive")


@dataclass(frozen=True)
class VariantScores:
    """One variant's scores (maps as they are, or post-processed)."""

    thresholds: dict[float, tuple[float, float]]  # FPR target → (τ, healthy validation share above τ)
    subjects: pd.DataFrame  # one row per test subject: Dice at each target, best Dice, AP, lesion counts
    dice: dict[float, Estimate]  # mean subject Dice at each target, with its subject-bootstrap interval
    dice_median: dict[float, Estimate]
    best_dice: Estimate
    subject_auprc: Estimate  # mean per-subject AP
    pooled_auprc: tuple[float, float, float]  # all brain voxels pooled: value (bins tied), lowest, highest
    lesion_wise: dict[float, dict[str, float]]  # target → sensitivity (all, per size bin), precision, f1, FP/subject
    healthy_fpr: dict[float, tuple[float, float, float]]  # target → mean, sd, max over held-out healthy subjects
    subject_detection: dict[str, Estimate]  # "auroc", "ap": subjects by their top-1 % mean
    resampled: dict[str, np.ndarray]  # "dice 1%", "dice 5%": the mean in each resample (paired comparisons)


@dataclass(frozen=True)
class VolumeRunMetrics:
    """The volume protocol's scores of one run, on the subjects of `case_ids`."""

    run: RunIdentity
    case_ids: tuple[str, ...]
    subject_ids: tuple[str, ...]  # the test subjects, in board order
    variants: dict[str, VariantScores]
    slice_detection: dict[str, Estimate]  # "auroc", "ap": slices by the run's score, healthy test slices negative
    depth: tuple[int, int, int, int]  # slices per test subject (fewest, most) and the slice positions (lowest, highest)
    seed_values: tuple[float, ...] = ()
    intervals: dict[str, Estimate] = field(default_factory=dict)  # headline keys, for paired comparisons
    resampled: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def headline(self) -> float:
        return self.variants["raw"].dice[FPR_TARGETS[0]].value

    @property
    def subject_dice(self) -> np.ndarray:
        """Per test subject, Dice at the first target, raw maps (the Wilcoxon test's paired scores)."""
        return self.variants["raw"].subjects[f"dice {FPR_TARGETS[0]:g}"].to_numpy(dtype=np.float64)


def _healthy(folder: Path, name: str) -> StoredResults:
    if not (folder / name / "cases.parquet").is_file():
        raise AnobenchError(
            f"run {folder} scored no {name} split, which the volume protocol needs (healthy validation "
            "subjects choose its thresholds, held-out ones measure their false positives); run it again with "
            "--healthy-split auto"
        )
    return open_results(folder / name)


def _processed(volume_maps: np.ndarray, variant: str) -> np.ndarray:
    return median_filtered(volume_maps) if variant == "post-processed" else volume_maps


def _segmentation(volume_maps: np.ndarray, brain: np.ndarray, tau: float, variant: str) -> np.ndarray:
    segmentation = (volume_maps > tau) & brain
    return without_small_components(segmentation) if variant == "post-processed" else segmentation


def _all_volumes(stored: StoredResults) -> Iterator:
    positions = np.arange(len(stored.rows))
    return subject_volumes(stored, positions, subjects_of(stored.rows, positions))


def evaluate_volume_run(
    folder: Path, resamples: int = RESAMPLES, seed: int = SEED, cases: tuple[str, ...] | None = None
) -> VolumeRunMetrics:
    """A run of volumes scored by the volume protocol, on the listed `cases` only when given."""
    store.check_complete(folder)
    config = store.read_json(folder / store.CONFIG)
    provenance = store.read_json(folder / store.PROVENANCE)
    if not (config.get("evaluation") or {}).get("volumes"):
        raise AnobenchError(
            f"run {folder} is of {config['dataset']}, which does not declare volumes (subjects, slice positions "
            "and brain masks): the volume protocol cannot stack its slices"
        )
    stored = open_results(folder)
    positions = stored.positions_of(cases) if cases is not None else np.arange(len(stored.rows))
    rows = stored.rows.iloc[positions].reset_index(drop=True)
    calibration, held_out = _healthy(folder, store.HEALTHY), _healthy(folder, store.HEALTHY_TEST)
    subjects = subjects_of(stored.rows, positions)
    thresholds = {variant: _thresholds(calibration, variant) for variant in VARIANTS}
    per_subject: dict[str, list[dict[str, float]]] = {variant: [] for variant in VARIANTS}
    histograms = {variant: np.zeros((2, FINE_BINS), np.int64) for variant in VARIANTS}

    def scored(volume: SubjectVolume) -> dict[str, tuple[dict[str, float], np.ndarray]]:
        """Per variant, the subject's row and its brain voxels' histograms (all, lesion)."""
        lesion = volume.lesion if volume.lesion is not None else np.zeros(volume.maps.shape, bool)
        found = {}
        for variant in VARIANTS:
            maps = _processed(volume.maps, variant)
            bins = fine_bins(maps[volume.brain])
            counts = np.stack(
                [np.bincount(bins, minlength=FINE_BINS), np.bincount(bins[lesion[volume.brain]], minlength=FINE_BINS)]
            )
            found[variant] = (_subject_row(maps, lesion, volume.brain, thresholds[variant], variant), counts)
        return found

    for subject in ordered_map(scored, subject_volumes(stored, positions, subjects)):  # in order: same sums
        for variant, (row, counts) in subject.items():
            per_subject[variant].append(row)
            histograms[variant] += counts
    healthy_rows = _healthy_rows(held_out, thresholds)
    weights = resample_counts(len(subjects), resamples, seed)
    variants = {
        variant: _variant(
            thresholds[variant], per_subject[variant], histograms[variant], healthy_rows[variant], weights
        )
        for variant in VARIANTS
    }
    raw = variants["raw"]
    return VolumeRunMetrics(
        run=run_identity(folder, config, provenance, rows),
        case_ids=tuple(rows["case_id"]),
        subject_ids=tuple(subjects),
        variants=variants,
        slice_detection=_slice_detection(rows, held_out.rows, resamples, seed),
        depth=(
            min(len(order) for order in subjects.values()),
            max(len(order) for order in subjects.values()),
            int(rows["slice_index"].min()),
            int(rows["slice_index"].max()),
        ),
        intervals={f"dice {t:g}": raw.dice[t] for t in FPR_TARGETS},
        resampled={f"dice {t:g}": raw.resampled[f"dice {t:g}"] for t in FPR_TARGETS},
    )


def _thresholds(calibration: StoredResults, variant: str) -> dict[float, tuple[float, float]]:
    """Per FPR target, the lowest map value leaving at most that share of the healthy validation
    subjects' brain voxels above it, and the share it leaves (two looks at the voxels, exact)."""

    def brain_values() -> Iterator[np.ndarray]:
        return ordered_map(lambda volume: _processed(volume.maps, variant)[volume.brain], _all_volumes(calibration))

    return {target: streamed_threshold(brain_values, target) for target in FPR_TARGETS}


def _subject_row(
    maps: np.ndarray, lesion: np.ndarray, brain: np.ndarray, thresholds: dict[float, tuple[float, float]], variant: str
) -> dict[str, float]:
    row: dict[str, float] = {"lesion voxels": float(lesion.sum())}
    for target, (tau, _) in thresholds.items():
        segmentation = _segmentation(maps, brain, tau, variant)
        row[f"dice {target:g}"] = dice(segmentation, lesion) if lesion.any() else float("nan")  # nothing to find
        counts: LesionCounts = lesion_counts(segmentation, lesion)
        row.update({f"{key} {target:g}": float(getattr(counts, key)) for key in LESION_TOTALS})
        for (name, _, _), lesions, found in zip(LESION_SIZE_BINS, counts.lesions_by_size, counts.found_by_size):
            row.update({f"lesions {name} {target:g}": float(lesions), f"found {name} {target:g}": float(found)})
    row["best dice"], row["ap"] = best_dice_and_precision(maps, lesion, brain)
    row["score"] = top_mean(maps, brain)
    return row


def _healthy_rows(
    held_out: StoredResults, thresholds: dict[str, dict[float, tuple[float, float]]]
) -> dict[str, pd.DataFrame]:
    """Per variant, per held-out healthy subject: the false-positive rate at each target, and its score."""

    def measured(volume: SubjectVolume) -> dict[str, dict[str, float]]:
        rows = {}
        for variant in VARIANTS:
            maps = _processed(volume.maps, variant)
            rows[variant] = {
                f"fpr {t:g}": false_positive_rate(_segmentation(maps, volume.brain, tau, variant), volume.brain)
                for t, (tau, _) in thresholds[variant].items()
            } | {"score": top_mean(maps, volume.brain)}
        return rows

    found = list(ordered_map(measured, _all_volumes(held_out)))
    return {variant: pd.DataFrame([subject[variant] for subject in found]) for variant in VARIANTS}


def _variant(
    thresholds: dict[float, tuple[float, float]],
    rows: list[dict[str, float]],
    histograms: np.ndarray,
    healthy: pd.DataFrame,
    weights: np.ndarray,
) -> VariantScores:
    table = pd.DataFrame(rows)
    dice_estimates, medians, resampled = {}, {}, {}
    for target in FPR_TARGETS:
        values = table[f"dice {target:g}"].to_numpy(dtype=np.float64)
        dice_estimates[target], resampled[f"dice {target:g}"] = _mean(values, weights)
        medians[target] = _median(values, weights)
    lesion_wise = {}
    for target in FPR_TARGETS:
        sums = {key: float(table[f"{key} {target:g}"].sum()) for key in LESION_TOTALS}
        sensitivity = sums["found"] / sums["lesions"] if sums["lesions"] else float("nan")
        touching = sums["predicted"] - sums["false_positive"]
        precision = touching / sums["predicted"] if sums["predicted"] else float("nan")
        together = sensitivity + precision  # NaN when there is no lesion or no prediction: F1 undefined
        lesion_wise[target] = {
            "sensitivity": sensitivity,
            "precision": precision,
            "f1": 2 * sensitivity * precision / together if together else (0.0 if together == 0 else float("nan")),
            "false positives per subject": sums["false_positive"] / max(len(table), 1),
            **{
                f"sensitivity {name}": _share(table[f"found {name} {target:g}"], table[f"lesions {name} {target:g}"])
                for name, _, _ in LESION_SIZE_BINS
            },
            **{f"lesions {name}": float(table[f"lesions {name} {target:g}"].sum()) for name, _, _ in LESION_SIZE_BINS},
        }
    healthy_fpr = {
        target: (
            float(healthy[f"fpr {target:g}"].mean()),
            float(healthy[f"fpr {target:g}"].std(ddof=0)),
            float(healthy[f"fpr {target:g}"].max()),
        )
        for target in FPR_TARGETS
    }
    tied, lowest, highest = precision_bounds(histograms[1], histograms[0])
    return VariantScores(
        thresholds,
        table,
        dice_estimates,
        medians,
        _mean(table["best dice"].to_numpy(dtype=np.float64), weights)[0],
        _mean(table["ap"].to_numpy(dtype=np.float64), weights)[0],
        (tied, lowest, highest),
        lesion_wise,
        healthy_fpr,
        detection_scores(table["score"].to_numpy(), healthy["score"].to_numpy(), len(weights)),
        resampled,
    )


def _share(found: pd.Series, lesions: pd.Series) -> float:
    total = float(lesions.sum())
    return float(found.sum()) / total if total else float("nan")


def _mean(values: np.ndarray, weights: np.ndarray) -> tuple[Estimate, np.ndarray]:
    """The mean over subjects with a value (NaN: no lesion to score) and its resamples."""
    known = np.isfinite(values)
    w = weights[:, known].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        samples = (w @ values[known]) / w.sum(axis=1)
    value = float(values[known].mean()) if known.any() else float("nan")
    return interval(value, samples), samples


def _median(values: np.ndarray, weights: np.ndarray) -> Estimate:
    """The median over subjects with its interval: each resample's weighted median (the lower one)."""
    known = np.isfinite(values)
    if not known.any():
        return Estimate(float("nan"), float("nan"), float("nan"))
    order = np.argsort(values[known], kind="stable")
    sorted_values = values[known][order]
    cumulative = np.cumsum(weights[:, known][:, order], axis=1)
    half = cumulative[:, -1:] / 2
    samples = sorted_values[np.minimum((cumulative < half).sum(axis=1), len(sorted_values) - 1)]
    samples = np.where(cumulative[:, -1] > 0, samples, np.nan)
    return interval(float(np.median(values[known])), samples)


def _slice_detection(rows: pd.DataFrame, healthy: pd.DataFrame, resamples: int, seed: int) -> dict[str, Estimate]:
    """Slices with a lesion against the held-out healthy subjects' slices, by the run's per-slice score."""
    positives = rows["score"][rows["lesion_pixels"] > 0].to_numpy()
    return detection_scores(positives, healthy["score"].to_numpy(), resamples, seed)
