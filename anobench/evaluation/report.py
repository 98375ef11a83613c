"""`anobench report RUNS... --out reports/NAME`: a folder with index.md and PNG figures.

Everything comes from the run folders. Runs with lesion masks (brain): the leaderboard with
intervals, the paired comparisons and their significance matrix, pooled precision-recall curves,
Dice against the noise level when the runs hold a sweep, and per-case panels (best, median and
worst case of each lesion-size bin). Runs with boxes (wrist): the Table 2 board with intervals,
paired comparisons on F1 mean and their matrix, FROC curves, and the best, median and worst image
by box F1.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from sklearn.metrics import precision_recall_curve
from tabulate import tabulate

from anobench.api import Box
from anobench.errors import AnobenchError
from anobench.evaluation import figures
from anobench.evaluation.bootstrap import Estimate
from anobench.evaluation.box_protocol import evaluate_box_run
from anobench.evaluation.calibration import streamed_threshold
from anobench.evaluation.cells import (
    COMPARISON_NOTE,
    board,
    bounds_section,
    calibrated_note,
    distinct_labels,
    interval_note,
    method_label,
    seeds_note,
    threshold_note,
)
from anobench.evaluation.identity import Coverage, evaluate_runs, find_runs, merge_seeds, same_data
from anobench.evaluation.layouts.full import dice_pairs, pairs_section, table_rows
from anobench.evaluation.layouts.table2 import (
    binned_froc_text,
    box_pairs,
    box_pairs_section,
    froc_counts_text,
    table2_note,
    table2_rows,
)
from anobench.evaluation.pixel_protocol import AUTO, BIN_NAMES, RunMetrics, evaluate_run, resolve_thresholds
from anobench.evaluation.ranking import rank_stability
from anobench.store import folder as store
from anobench.store.results import CaseResults, StoredResults, open_results
from anobench.store.rows import BOXES, read_boxes

PANEL_PICKS = ("best", "median", "worst")
BOXED = "boxed"  # the one panel group of a box run: images with at least one box


def sweep_series(metrics: list[RunMetrics]) -> dict[str, list[tuple[int, Estimate]]]:
    """Runs of one method label, noise and stride at several T0: label → (T0, Dice all) points."""
    series: dict[str, dict[int, Estimate]] = {}
    for m in metrics:
        if m.run.settings.get("t0") is None:
            continue
        label = f"{method_label(m.run)}, {m.run.settings.get('noise', '–')}, stride {m.run.settings.get('stride', '–')}"
        series.setdefault(label, {})[int(m.run.settings["t0"])] = m.intervals["dice all"]
    return {label: sorted(points.items()) for label, points in series.items() if len(points) > 1}


def panel_rows(scores: np.ndarray, groups: np.ndarray, group_names: Sequence[str]) -> list[tuple[str, int]]:
    """(caption, case position) of the best, median and worst scored case of each group."""
    picked = []
    for name in group_names:
        members = np.flatnonzero((groups == name) & np.isfinite(scores))
        if members.size == 0:
            continue
        ranked = members[np.argsort(-scores[members], kind="stable")]
        for pick, position in zip(PANEL_PICKS, (ranked[0], ranked[len(ranked) // 2], ranked[-1])):
            picked.append((f"{name} {pick}", int(position)))
    return picked


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def write_report(targets: list[str], out: Path, command: str, thresholds: str = AUTO, overwrite: bool = False) -> Path:
    """`thresholds`: how mask runs' max-Dice and calibrated τ are searched (`pixel_protocol.THRESHOLD_MODES`,
    or auto: exact while the runs fit in memory). An existing report in `out` is replaced only with
    `overwrite` (its figures removed first, so none of a run no longer in it stays behind)."""
    folders = find_runs(targets)
    if not folders:
        raise AnobenchError("no runs to report on")
    if (out / "index.md").is_file():
        if not overwrite:
            raise AnobenchError(
                f"report {out / 'index.md'} already exists; pass --overwrite to replace it or --out to write another"
            )
        for figure in out.glob("*.png"):
            figure.unlink()
    boxed = [(folder / BOXES).is_file() for folder in folders]
    if any(boxed) and not all(boxed):
        listed = ", ".join(str(folder) for folder, has_boxes in zip(folders, boxed) if has_boxes)
        raise AnobenchError(f"box runs ({listed}) and lesion-mask runs cannot share a report")
    if all(boxed):
        return _box_report(folders, out, command)
    return _mask_report(folders, out, command, thresholds)


def _comparisons(labels: list[str], pairs: list[Any], section: list[str], out: Path, metric: str) -> list[str]:
    """The paired-comparisons section and its significance matrix (nothing for a single run)."""
    if not pairs:
        return []
    figures.significance_matrix(labels, pairs, out / "significance.png", metric)
    return [*section, f"![significance matrix of {metric}](significance.png)"]


def _rank_section(metrics: Sequence[Any], labels: list[str], out: Path, key: str, metric: str) -> list[str]:
    """Rank stability of `metric` (challengeR): a table and the blob plot, for runs of the same cases."""
    if len(metrics) < 2 or any(m.case_ids != metrics[0].case_ids for m in metrics):
        return []
    stability = rank_stability(
        np.array([m.intervals[key].value for m in metrics]), np.stack([m.resampled[key] for m in metrics])
    )
    figures.rank_blobs(labels, stability.frequencies, stability.reported, out / "ranks.png", metric)
    body = [
        [label, f"{stability.reported[i]:g}", f"{100 * stability.first[i]:.0f} %", f"{stability.mean_rank[i]:.2f}"]
        for i, label in enumerate(labels)
    ]
    return [
        "## Rank stability",
        f"Each run's rank on {metric} in every bootstrap resample (the paired resamples of the board): the share "
        f"of resamples it ranks first and its mean rank; Kendall's τ between each resample's ranking and the "
        f"reported one, averaged: {stability.kendall_tau:.3f} (1: every resample agrees).",
        tabulate(body, headers=["method", "rank", "P(rank 1)", "mean rank"], tablefmt="github", disable_numparse=True),
        f"![ranks of {metric} over the resamples](ranks.png)",
    ]


def _write_index(
    metrics: Sequence[Any],
    out: Path,
    command: str,
    note: str,
    table: tuple[list[str], list[list[str]]],
    sections: list[str],
    coverage: Coverage,
) -> Path:
    """index.md in the page frame of every board: the leaderboard (`note`, `table`) then `sections`."""
    first = metrics[0].run
    page = board(
        f"Report: {first.dataset} (split `{first.split}`)",
        f"## Leaderboard\n\n{note}",
        *table,
        [m.run for m in metrics],
        command,
        sections,
        coverage,
    )
    index = out / "index.md"
    store.write_text(index, page)
    return index


def _figures_of(m: RunMetrics) -> tuple[tuple[np.ndarray, np.ndarray], CaseResults, list[tuple[str, int]], float]:
    """A run's pooled precision-recall curve (recall, precision), the cases its panels show (read alone),
    their captions and positions on the board, and the top of the maps' colour scale: the 99.5th
    percentile of the run's maps (for a run searched in chunks, the order statistic of that rank)."""
    stored = open_results(m.run.folder)
    positions = stored.positions_of(m.case_ids)
    bins = np.array([b if isinstance(b, str) else None for b in stored.rows["size_bin"]], dtype=object)[positions]
    picks = panel_rows(m.case_dice, bins, BIN_NAMES)
    if m.pr_curve is None:  # the run was evaluated in memory: its pixels give the curve
        every = stored.gather(["maps", "masks"], positions)
        scored = np.array([b is not None for b in bins], dtype=bool)
        precision, recall, _ = precision_recall_curve(every["masks"][scored].ravel(), every["maps"][scored].ravel())
        curve, top = (recall, precision), float(np.percentile(every["maps"], 99.5)) or 1.0
    else:
        curve, top = m.pr_curve, _map_top(stored, positions, large=True)
    return curve, stored.load(positions[[position for _, position in picks]]), picks, top


def _map_top(stored: StoredResults, positions: np.ndarray, large: bool) -> float:
    """The top of a run's map colour scale: the 99.5th percentile of its maps (of a run read in chunks,
    the order statistic of that rank, found in two looks)."""
    if not large:
        return float(np.percentile(stored.gather(["maps"], positions)["maps"], 99.5)) or 1.0
    maps = lambda: (arrays["maps"] for _, arrays in stored.iterate(["maps"], np.sort(positions)))  # noqa: E731
    return streamed_threshold(maps, 0.005)[0] or 1.0


def _masks(results: CaseResults) -> np.ndarray:
    if results.masks is None:  # evaluate_run refuses such a run before: never reached
        raise AnobenchError("a pixel run without masks reached its report")
    return results.masks


def _mask_report(folders: list[Path], out: Path, command: str, thresholds: str) -> Path:
    thresholds = resolve_thresholds(folders, thresholds)
    evaluated, coverage = evaluate_runs(folders, functools.partial(evaluate_run, thresholds=thresholds))
    same_data([m.run for m in evaluated])
    metrics = merge_seeds(evaluated)
    out.mkdir(parents=True, exist_ok=True)
    note = (
        f"Dice: pooled max-Dice ×100 per lesion-size bin ({threshold_note(thresholds)}); AUPRC: pooled pixel "
        f"average precision ×100, exact. {interval_note(metrics)} {COMPARISON_NOTE} {calibrated_note(thresholds)} "
        f"{seeds_note('Dice all')}"
    )
    pairs = dice_pairs(metrics)
    labels = distinct_labels([m.run for m in metrics])
    sections = _comparisons(labels, pairs, pairs_section(metrics, pairs) + bounds_section(metrics), out, "Dice all")
    sections += _rank_section(metrics, labels, out, "dice all", "Dice all")
    figured = {label: _figures_of(m) for m, label in zip(metrics, labels)}
    curves = {label: (*curve, m.auprc) for (label, (curve, _, _, _)), m in zip(figured.items(), metrics)}
    figures.pr_curves(curves, out / "pr-curves.png")
    sections += ["## Precision-recall", "![pooled pixel precision-recall curves](pr-curves.png)"]
    series = sweep_series(metrics)
    if series:
        figures.sweep_plot(series, out / "sweep.png")
        sections += [
            "## Dice against the noise level",
            "Each point one run; bars: 95 % bootstrap intervals.",
            "![Dice all against T0](sweep.png)",
        ]
    sections += [
        "## Cases",
        "Best, median and worst case of each lesion-size bin by per-case Dice at the run's "
        "pooled threshold: input, reconstruction, anomaly map (0 to the 99.5th percentile of the run's maps), "
        "ground truth.",
    ]
    for number, (m, label) in enumerate(zip(metrics, labels), start=1):
        _, cases, picks, top = figured[label]
        name = f"cases-{number}-{_slug(label)}.png"
        figures.case_panels(
            [(caption, line) for line, (caption, _) in enumerate(picks)],
            cases.images,
            cases.reconstructions,
            cases.maps,
            _masks(cases),
            list(cases.rows["case_id"]),
            m.case_dice[[position for _, position in picks]],
            out / name,
            f"{label} ({m.run.folder})",
            top=top,
        )
        sections += [f"### {label}", f"![cases of {label}]({name})"]
    return _write_index(metrics, out, command, note, table_rows(metrics, pairs), sections, coverage)


def _box_masks(folder: Path, results: CaseResults) -> np.ndarray:
    """Each image's boxes, filled, as a mask (what the panels show as ground truth)."""
    shape = results.maps.shape[1:]
    masks = np.zeros(results.maps.shape, bool)
    position = {index: row for row, index in enumerate(results.rows["index"])}
    for box in read_boxes(folder).itertuples():
        if box.index not in position:  # a case outside the report's common cases
            continue
        masks[position[box.index]] |= Box(box.top, box.left, box.bottom, box.right, box.label).mask(shape)
    return masks


def _box_report(folders: list[Path], out: Path, command: str) -> Path:
    evaluated, coverage = evaluate_runs(folders, evaluate_box_run)
    same_data([m.run for m in evaluated])
    metrics = merge_seeds(evaluated)
    out.mkdir(parents=True, exist_ok=True)
    labels = distinct_labels([m.run for m in metrics])
    pairs = box_pairs(metrics)
    sections = _comparisons(labels, pairs, box_pairs_section(metrics, pairs), out, "F1 mean")
    sections += _rank_section(metrics, labels, out, "f1 mean", "F1 mean")
    figures.froc_curves({label: m.froc_curve for m, label in zip(metrics, labels)}, out / "froc.png")
    sections += [
        "## FROC",
        "Best box recall at ≤ k false-positive regions per image, every distinct map value "
        f"tried as threshold ({froc_counts_text(metrics)}{binned_froc_text(metrics)}; the board's R@kFP).",
        "![FROC curves](froc.png)",
        "## Cases",
        "Best, median and worst image by the mean F1 of its boxes (thor-compat, τ from the "
        "healthy split): input, reconstruction, anomaly map (0 to the 99.5th percentile of the run's maps), "
        "its boxes.",
    ]
    for number, (m, label) in enumerate(zip(metrics, labels), start=1):
        stored = open_results(m.run.folder)
        positions = stored.positions_of(m.case_ids)
        name = f"cases-{number}-{_slug(label)}.png"
        picks = panel_rows(m.case_f1, np.full(len(m.case_f1), BOXED), [BOXED])
        shown = [position for _, position in picks]
        results = stored.load(positions[shown])
        figures.case_panels(
            [(caption, line) for line, (caption, _) in enumerate(picks)],
            results.images,
            results.reconstructions,
            results.maps,
            _box_masks(m.run.folder, results),
            list(results.rows["case_id"]),
            m.case_f1[shown],
            out / name,
            f"{label} ({m.run.folder})",
            score_name="F1",
            top=_map_top(stored, positions, m.froc_search != "exact"),
        )
        sections += [f"### {label}", f"![cases of {label}]({name})"]
    return _write_index(metrics, out, command, table2_note(metrics), table2_rows(metrics), sections, coverage)
