"""The THOR paper's Table 2 layout for localisation runs (wrist), computed from run folders only.

Each run must hold its boxes (`boxes.parquet`) and the healthy split scored alongside it
(`anobench run … --healthy-split test-healthy`): the thor-compat threshold comes from those healthy
maps, never from the test labels. Per class: recall / F1 ×100 (thor-compat), beside the paper's
reported numbers; and the standard FROC summary, box recall at 0.5 / 1 / 2 / 4 false-positive
regions per image over the test images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from tabulate import tabulate

from anobench import runs
from anobench.api import Box
from anobench.box_metrics import FROC_FALSE_POSITIVES, THOR_HEALTHY_FPR, healthy_fpr_threshold, thor_compat_box
from anobench.froc import exact_froc, recall_at_false_positives, recall_at_false_positives_resampled
from anobench.stats import RESAMPLES, SEED, Estimate, clusters_of, interval, resample_counts
from anobench.errors import AnobenchError
from anobench.comparisons import PairComparison, compare_pairs
from anobench.leaderboard import (
    Coverage, PAIR_HEADERS, PAPER_NAMES, RunIdentity, board, distinct_labels, method_label, pair_cells, percent,
    run_identity, seed_spread, seeds_note, with_interval,
)

if TYPE_CHECKING:
    from rich.console import Console



@dataclass(frozen=True)
class BoxRunMetrics(RunIdentity):
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
    froc_thresholds: int  # distinct map values the FROC was computed at (every one)
    seed_values: tuple[float, ...] = ()  # F1 mean of every inference seed, when the run was repeated (merge_seeds)

    @property
    def headline(self) -> float:
        return self.intervals["f1 mean"].value


def evaluate_box_run(
    folder: Path, resamples: int = RESAMPLES, seed: int = SEED, cases: tuple[str, ...] | None = None
) -> BoxRunMetrics:
    """A box run's metrics, on the listed `cases` only when given (a board's common cases)."""
    runs.check_complete(folder)
    config = runs.read_json(folder / runs.CONFIG)
    provenance = runs.read_json(folder / runs.PROVENANCE)
    results = runs.read_results(*runs.run_files(folder))
    boxes = runs.read_boxes(folder)
    if cases is not None:
        results = runs.select_cases(results, cases)
        boxes = boxes[boxes["index"].isin(results.rows["index"])]
    healthy_rows, healthy_maps = runs.healthy_files(folder)
    if not healthy_rows.is_file():
        raise AnobenchError(
            f"run {folder} scored no healthy split, which the box protocol takes its threshold from; "
            f"run it again with --healthy-split auto"
        )
    tau, healthy_fpr = healthy_fpr_threshold(runs.read_results(healthy_rows, healthy_maps).maps)
    shape = results.maps.shape[1:]
    boxes_of = {index: [Box(r.top, r.left, r.bottom, r.right, r.label) for r in group.itertuples()]
                for index, group in boxes.groupby("index")}
    position = {index: row for row, index in enumerate(results.rows["index"])}
    scored = []
    for index, image_boxes in boxes_of.items():
        anomaly_map = results.maps[position[index]]
        if results.negative_regions is not None:
            negative = results.negative_regions[position[index]]
        else:
            negative = ~np.logical_or.reduce([box.mask(shape) for box in image_boxes])
        for box in image_boxes:
            score = thor_compat_box(anomaly_map, box.mask(shape), negative, tau)
            scored.append({"class": box.label, "recall": score.tp, "precision": score.precision, "f1": score.f1,
                           "image": position[index]})
    table = pd.DataFrame(scored)
    per_class = table.groupby("class").agg(
        recall=("recall", "mean"), precision=("precision", "mean"), f1=("f1", "mean"), boxes=("recall", "size")
    )
    clusters = clusters_of(results.rows["subject_id"].tolist())
    weights = resample_counts(len(results.rows), resamples, seed, clusters)
    box_weights = weights[:, table["image"].to_numpy()]
    class_intervals = {}
    class_f1 = []
    for name, members in table.groupby("class").indices.items():
        drawn = box_weights[:, members].sum(axis=1)
        for column in ("recall", "f1"):
            with np.errstate(invalid="ignore", divide="ignore"):
                samples = (box_weights[:, members] @ table[column].to_numpy()[members]) / drawn
            class_intervals[(name, column)] = interval(float(per_class.loc[name, column]), samples)
            if column == "f1":
                class_f1.append(samples)
    with np.errstate(invalid="ignore"):
        f1_mean_samples = np.nanmean(np.stack(class_f1), axis=0)  # a class not drawn in a resample is left out
    case_f1 = np.full(len(results.rows), np.nan)
    for image, group in table.groupby("image"):
        case_f1[image] = group["f1"].mean()
    image_boxes = [boxes_of.get(index, []) for index in results.rows["index"]]
    operating = exact_froc(list(results.maps), image_boxes)
    observed = recall_at_false_positives(*operating.curve)
    resampled = recall_at_false_positives_resampled(
        weights, operating.false_positives, operating.found, np.array([len(b) for b in image_boxes], dtype=float)
    )
    return BoxRunMetrics(
        **run_identity(folder, config, provenance, results.rows),
        classes=evaluated_classes(config, boxes),
        threshold=tau,
        healthy_fpr=healthy_fpr,
        per_class=per_class,
        class_intervals=class_intervals,
        recall_at_fp={k: interval(observed[k], resampled[k]) for k in observed},
        bootstrap_unit="patients" if clusters is not None else "images",
        intervals={"f1 mean": interval(float(per_class["f1"].mean()), f1_mean_samples)},
        resampled={"f1 mean": f1_mean_samples},
        case_ids=tuple(results.rows["case_id"]),
        case_f1=case_f1,
        froc_curve=operating.curve,
        froc_thresholds=operating.distinct_thresholds,
    )


def evaluated_classes(config: dict[str, Any], boxes: pd.DataFrame) -> tuple[str, ...]:
    """The classes the run's data set declares it evaluates (its boxes' classes for runs made before
    data sets declared them)."""
    declared = (config.get("evaluation") or {}).get("classes")
    return tuple(declared) if declared else tuple(sorted(boxes["label"].unique()))


def threshold_text(m: BoxRunMetrics) -> str:
    """τ and the healthy false-positive-pixel share it reached (flagged above the target)."""
    flag = "" if m.healthy_fpr <= THOR_HEALTHY_FPR else f" > {100 * THOR_HEALTHY_FPR:g} %"
    return f"{m.threshold:.3f} ({100 * m.healthy_fpr:.1f} %{flag})"


def _recall_f1(m: BoxRunMetrics, name: str) -> str:
    if name not in m.per_class.index:
        return "–"
    return f"{with_interval(m.class_intervals[(name, 'recall')])} / {with_interval(m.class_intervals[(name, 'f1')])}"


def table2_rows(metrics: list[BoxRunMetrics]) -> tuple[list[str], list[list[str]]]:
    """Each run's row, followed by the paper's reported row of that method where there is one."""
    from anobench.published import TABLE2_DATA, table2

    reported = table2().set_index(["method", "class"])
    classes = metrics[0].classes
    headers = ["method", "source", *classes, "F1 mean", *(f"R@{k:g}FP" for k in FROC_FALSE_POSITIVES),
               "τ (healthy FPR)"]
    headers += ["NFE/img", "s/img"]
    seeded = any(m.seed_values for m in metrics)
    headers += ["F1 mean over seeds"] if seeded else []
    body: list[list[str]] = []
    for m in metrics:
        body.append(
            [method_label(m), f"anobench, {m.dataset}", *(_recall_f1(m, name) for name in classes),
             with_interval(m.intervals["f1 mean"]), *(with_interval(m.recall_at_fp[k], 1) for k in FROC_FALSE_POSITIVES),
             threshold_text(m),
             f"{m.nfe:g}", f"{m.seconds_per_image:.3f}", *([seed_spread(m)] if seeded else [])]
        )
        paper_name = PAPER_NAMES.get(m.method)
        if paper_name in reported.index.get_level_values(0):
            cells = [
                f"{reported.loc[(paper_name, name), 'recall']:.2f} / {reported.loc[(paper_name, name), 'f1']:.2f}"
                if (paper_name, name) in reported.index else "–"
                for name in classes
            ]
            reported_f1 = reported.loc[paper_name, "f1"].mean()
            body.append([paper_name, f"reported ({TABLE2_DATA})", *cells, f"{reported_f1:.2f}",
                         *["–"] * (len(headers) - 3 - len(cells))])
    return headers, body


def table2_note(metrics: list[BoxRunMetrics]) -> str:
    from anobench.published import CITATION, TABLE2_DATA

    return (
        "Per class: recall / F1 ×100 by the THOR paper's box protocol (thor-compat: τ from the healthy split "
        "scored with each run, the largest mean healthy FPR ≤ 5 %; TP when more than a tenth of the box is kept; "
        "FP = min(10, ⌊negative-region mass / inside mass⌋), the negative region being the data set's own "
        "where it gives one, else everything outside the image's boxes). R@kFP: box recall ×100 at k false-positive regions per image "
        "(8-connected components of map ≥ τ; the FROC at its exact operating points: every distinct map value as "
        f"threshold, {froc_counts_text(metrics)}). F1 mean: F1 averaged over the classes. "
        f"Brackets: 95 % percentile bootstrap intervals ({RESAMPLES} resamples of the test "
        f"{'patients' if {m.bootstrap_unit for m in metrics} == {'patients'} else 'images'}, seed {SEED}, each "
        "image with all its boxes; τ stays the one chosen on the healthy split). "
        f"Rows marked \"reported ({TABLE2_DATA})\" are the paper's published numbers ({CITATION}, Table 2)."
    ) + (f" {seeds_note('F1 mean')}" if any(m.seed_values for m in metrics) else "")


def froc_counts_text(metrics: list[BoxRunMetrics]) -> str:
    counts = ", ".join(f"{m.froc_thresholds:,}" for m in metrics)
    return f"{counts} thresholds for the runs in board order"


def box_pairs(metrics: list[BoxRunMetrics]) -> list[PairComparison]:
    return compare_pairs(metrics, "f1 mean", [m.case_f1 for m in metrics])


def box_pairs_section(metrics: list[BoxRunMetrics], pairs: list[PairComparison]) -> list[str]:
    """Paired comparisons on F1 mean (`pairs`, from `box_pairs`; Wilcoxon on per-image mean F1)."""
    if not pairs:
        return []
    labels = distinct_labels(metrics)
    headers = ["A", "B", "Δ F1 mean (A − B) [95% CI]", *PAIR_HEADERS[3:]]
    table = tabulate([pair_cells(labels, p) for p in pairs], headers=headers, tablefmt="github", disable_numparse=True)
    return ["## Paired comparisons (F1 averaged over classes; Wilcoxon on per-image mean F1)", table]


def render_table2(metrics: list[BoxRunMetrics], command: str, coverage: Coverage | None = None) -> str:
    headers, body = table2_rows(metrics)
    first = metrics[0]
    title = f"Table 2 layout: {first.dataset} (split `{first.split}`) beside the THOR paper"
    return board(title, table2_note(metrics), headers, body, metrics, command,  # type: ignore[arg-type]
                 box_pairs_section(metrics, box_pairs(metrics)), coverage)


def print_table2(metrics: list[BoxRunMetrics], console: Console) -> None:
    """Per-class F1 and the FROC summary of each run (the Markdown file adds recall and the paper's rows)."""
    from rich import box
    from rich.table import Table

    classes = metrics[0].classes
    table = Table(title=f"{metrics[0].dataset} ({metrics[0].split}): box F1 and FROC recall ×100",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("method", no_wrap=True)
    for name in (*(label[:5] for label in classes), "mean", *(f"R@{k:g}" for k in FROC_FALSE_POSITIVES), "τ"):
        table.add_column(name, justify="right", no_wrap=True)
    for m in metrics:
        f1 = [percent(m.per_class.loc[n, "f1"], 1) if n in m.per_class.index else "–" for n in classes]
        froc_cells = [percent(m.recall_at_fp[k].value, 1) for k in FROC_FALSE_POSITIVES]
        table.add_row(method_label(m), *f1, percent(m.intervals["f1 mean"].value, 1), *froc_cells, f"{m.threshold:.3f}")
    console.print(table)
