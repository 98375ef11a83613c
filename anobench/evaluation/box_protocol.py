"""The box protocol of a run (wrist): the THOR paper's thor-compat recall / F1 per class, with the
threshold taken from the healthy split scored with the run (never from the test labels), and the
FROC at its exact operating points, each with its bootstrap over the test images (or patients).
A run too large for memory (`binned.EXACT_PIXELS`) is read a chunk at a time (`box_streaming`), its
FROC then computed at 4,096 thresholds; the board says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anobench.api import Box
from anobench.errors import AnobenchError
from anobench.evaluation.binned import EXACT_PIXELS, run_pixels
from anobench.evaluation.bootstrap import (
    RESAMPLES,
    SEED,
    Estimate,
    Resampler,
    clusters_of,
    interval,
    resample_counts,
    resampler_for,
)
from anobench.evaluation.box_metrics import THOR_CANDIDATES, thor_compat_box
from anobench.evaluation.box_streaming import stream_box_scores
from anobench.evaluation.calibration import HEALTHY_FPR, calibrated_threshold, streamed_threshold
from anobench.evaluation.froc import exact_froc, recall_at_false_positives, recall_at_false_positives_resampled
from anobench.evaluation.identity import RunIdentity, run_identity
from anobench.store import folder as store
from anobench.store.results import StoredResults, open_results, read_results
from anobench.store.rows import CASES, read_boxes


@dataclass(frozen=True)
class BoxRunMetrics:
    """The box protocol's scores of one run, on the images `case_ids`, and the run they belong to."""

    run: RunIdentity
    classes: tuple[str, ...]  # the classes the data set evaluates, in board order (its declared evaluation)
    threshold: float
    healthy_fpr: float
    per_class: pd.DataFrame  # index: class; columns recall, precision, f1, boxes
    class_intervals: dict[tuple[str, str], Estimate]  # (class, "recall" | "f1")
    recall_at_fp: dict[float, Estimate]
    bootstrap_unit: str  # "images" or "patients"
    intervals: dict[str, Estimate]  # "f1 mean": F1 averaged over the classes present
    resampled: dict[str, np.ndarray]
    case_ids: tuple[str, ...]
    case_f1: np.ndarray  # per image, the mean F1 of its boxes (NaN: no box)
    froc_curve: tuple[np.ndarray, np.ndarray]  # false-positive regions per image and box recall, per operating point
    froc_thresholds: int  # thresholds the FROC was computed at (every distinct map value, when exact)
    seed_values: tuple[float, ...] = ()  # F1 mean of every inference seed, when the run was repeated (merge_seeds)
    froc_search: str = "exact"  # exact (every distinct map value), or binned (runs read a chunk at a time)

    @property
    def headline(self) -> float:
        return self.intervals["f1 mean"].value


def evaluate_box_run(
    folder: Path, resamples: int = RESAMPLES, seed: int = SEED, cases: tuple[str, ...] | None = None
) -> BoxRunMetrics:
    """A box run's metrics, on the listed `cases` only when given (a board's common cases)."""
    store.check_complete(folder)
    config = store.read_json(folder / store.CONFIG)
    provenance = store.read_json(folder / store.PROVENANCE)
    stored = open_results(folder)
    boxes = read_boxes(folder)
    positions = stored.positions_of(cases) if cases is not None else np.arange(len(stored.rows))
    rows = stored.rows.iloc[positions].reset_index(drop=True)
    if cases is not None:
        boxes = boxes[boxes["index"].isin(rows["index"])]
    if not (folder / store.HEALTHY / CASES).is_file():
        raise AnobenchError(
            f"run {folder} scored no healthy split, which the box protocol takes its threshold from; "
            f"run it again with --healthy-split auto"
        )
    boxes_of = {
        index: [Box(r.top, r.left, r.bottom, r.right, r.label) for r in group.itertuples()]
        for index, group in boxes.groupby("index")
    }
    clusters = clusters_of(rows["subject_id"].tolist())
    if run_pixels(folder) <= EXACT_PIXELS:
        scores = _in_memory(stored, positions, rows, boxes_of, resample_counts(len(rows), resamples, seed, clusters))
        search = "exact"
    else:
        scores = _streamed(stored, positions, rows, boxes_of, resampler_for(len(rows), resamples, seed, clusters))
        search = "binned"
    per_class = scores.table.groupby("class").agg(
        recall=("recall", "mean"), precision=("precision", "mean"), f1=("f1", "mean"), boxes=("recall", "size")
    )
    class_intervals = {
        (name, column): interval(float(per_class.loc[name, column]), samples)
        for (name, column), samples in scores.class_samples.items()
    }
    with np.errstate(invalid="ignore"):  # a class not drawn in a resample is left out
        f1_mean_samples = np.nanmean(np.stack([scores.class_samples[(n, "f1")] for n in per_class.index]), axis=0)
    case_f1 = np.full(len(rows), np.nan)
    for image, group in scores.table.groupby("image"):
        case_f1[image] = group["f1"].mean()
    return BoxRunMetrics(
        run=run_identity(folder, config, provenance, rows),
        classes=evaluated_classes(config, boxes),
        threshold=scores.threshold,
        healthy_fpr=scores.healthy_fpr,
        per_class=per_class,
        class_intervals=class_intervals,
        recall_at_fp={k: interval(*scores.recall_at_fp[k]) for k in scores.recall_at_fp},
        bootstrap_unit="patients" if clusters is not None else "images",
        intervals={"f1 mean": interval(float(per_class["f1"].mean()), f1_mean_samples)},
        resampled={"f1 mean": f1_mean_samples},
        case_ids=tuple(rows["case_id"]),
        case_f1=case_f1,
        froc_curve=scores.froc_curve,
        froc_thresholds=scores.thresholds,
        froc_search=search,
    )


@dataclass(frozen=True)
class _BoxScores:
    """What either reading of a run gives the board: the threshold, the per-box table with each class's
    resampled means, and the FROC with its resampled recalls at k false positives."""

    threshold: float
    healthy_fpr: float
    table: pd.DataFrame
    class_samples: dict[tuple[str, str], np.ndarray]
    froc_curve: tuple[np.ndarray, np.ndarray]
    recall_at_fp: dict[float, tuple[float, np.ndarray]]
    thresholds: int


def _in_memory(
    stored: StoredResults,
    positions: np.ndarray,
    rows: pd.DataFrame,
    boxes_of: dict[int, list[Box]],
    weights: np.ndarray,
) -> _BoxScores:
    """The run's maps in memory: the exact FROC, every distinct map value a threshold."""
    results = stored.load(positions, names=("maps", "negative_regions"))
    healthy = read_results(stored.folder / store.HEALTHY).maps
    tau, healthy_fpr = calibrated_threshold(healthy, HEALTHY_FPR, THOR_CANDIDATES)
    shape = results.maps.shape[1:]
    position = {index: row for row, index in enumerate(rows["index"])}
    scored = []
    for index, image_boxes in boxes_of.items():
        anomaly_map = results.maps[position[index]]
        if results.negative_regions is not None:
            negative = results.negative_regions[position[index]]
        else:
            negative = ~np.logical_or.reduce([box.mask(shape) for box in image_boxes])
        for box in image_boxes:
            score = thor_compat_box(anomaly_map, box.mask(shape), negative, tau)
            scored.append(
                {
                    "class": box.label,
                    "recall": score.tp,
                    "precision": score.precision,
                    "f1": score.f1,
                    "image": position[index],
                }
            )
    table = pd.DataFrame(scored)
    box_weights = weights[:, table["image"].to_numpy()]
    class_samples = {}
    for name, members in table.groupby("class").indices.items():
        drawn = box_weights[:, members].sum(axis=1)
        for column in ("recall", "f1"):
            with np.errstate(invalid="ignore", divide="ignore"):
                class_samples[(name, column)] = (box_weights[:, members] @ table[column].to_numpy()[members]) / drawn
    boxes_per_image = [boxes_of.get(index, []) for index in rows["index"]]
    operating = exact_froc(list(results.maps), boxes_per_image)
    observed = recall_at_false_positives(*operating.curve)
    resampled = recall_at_false_positives_resampled(
        weights, operating.false_positives, operating.found, np.array([len(b) for b in boxes_per_image], dtype=float)
    )
    recall_at_fp = {k: (observed[k], resampled[k]) for k in observed}
    return _BoxScores(
        tau, healthy_fpr, table, class_samples, operating.curve, recall_at_fp, operating.distinct_thresholds
    )


def _streamed(
    stored: StoredResults,
    positions: np.ndarray,
    rows: pd.DataFrame,
    boxes_of: dict[int, list[Box]],
    resampler: Resampler,
) -> _BoxScores:
    """The run read a chunk at a time (`box_streaming`): the FROC at `FROC_THRESHOLDS` thresholds."""
    healthy = open_results(stored.folder / store.HEALTHY)
    maps = lambda: (arrays["maps"] for _, arrays in healthy.iterate(["maps"]))  # noqa: E731
    tau, healthy_fpr = streamed_threshold(maps, HEALTHY_FPR, THOR_CANDIDATES)
    board_boxes = {board: boxes_of.get(index, []) for board, index in enumerate(rows["index"])}
    streamed = stream_box_scores(stored, positions, board_boxes, tau, resampler)
    return _BoxScores(
        tau,
        healthy_fpr,
        streamed.table,
        streamed.class_samples,
        streamed.froc_curve,
        streamed.recall_at_fp,
        streamed.thresholds,
    )


def evaluated_classes(config: dict[str, Any], boxes: pd.DataFrame) -> tuple[str, ...]:
    """The classes the run's data set declares it evaluates (its boxes' classes for runs made before
    data sets declared them)."""
    declared = (config.get("evaluation") or {}).get("classes")
    return tuple(declared) if declared else tuple(sorted(boxes["label"].unique()))
