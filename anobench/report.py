"""`anobench report RUNS... --out reports/NAME`: a folder with index.md and PNG figures.

Everything comes from the run folders: the leaderboard with intervals, the paired comparisons and
their significance matrix, pooled precision-recall curves, Dice against the noise level when the
runs hold a sweep, and per-case panels (best, median and worst case of each lesion-size bin).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tabulate import tabulate

from anobench import figures, runs
from anobench.comparisons import compare_pairs
from anobench.errors import AnobenchError
from anobench.leaderboard import (
    BIN_NAMES, CALIBRATED_NOTE, COMPARISON_NOTE, RunMetrics, distinct_labels, evaluate_run, find_runs,
    interval_note, merge_seeds, method_label, pairs_section, seeds_note, table_rows,
)
from anobench.stats import Estimate

PANEL_PICKS = ("best", "median", "worst")


def sweep_series(metrics: list[RunMetrics]) -> dict[str, list[tuple[int, Estimate]]]:
    """Runs of one method label, noise and stride at several T0: label → (T0, Dice all) points."""
    series: dict[str, dict[int, Estimate]] = {}
    for m in metrics:
        if m.settings.get("t0") is None:
            continue
        label = f"{method_label(m)}, {m.settings.get('noise', '–')}, stride {m.settings.get('stride', '–')}"
        series.setdefault(label, {})[int(m.settings["t0"])] = m.intervals["dice all"]
    return {label: sorted(points.items()) for label, points in series.items() if len(points) > 1}


def panel_rows(m: RunMetrics, size_bins: np.ndarray) -> list[tuple[str, int]]:
    """(caption, case position) of the best, median and worst case of each size bin, by per-case Dice."""
    picked = []
    for name in BIN_NAMES:
        members = np.flatnonzero((size_bins == name) & np.isfinite(m.case_dice))
        if members.size == 0:
            continue
        ranked = members[np.argsort(-m.case_dice[members], kind="stable")]
        for pick, position in zip(PANEL_PICKS, (ranked[0], ranked[len(ranked) // 2], ranked[-1])):
            picked.append((f"{name} {pick}", int(position)))
    return picked


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def write_report(targets: list[str], out: Path, command: str) -> Path:
    metrics = merge_seeds([evaluate_run(folder) for folder in find_runs(targets)])
    if not metrics:
        raise AnobenchError("no runs to report on")
    if len({(m.dataset, m.split, m.data_manifest) for m in metrics}) > 1:
        raise AnobenchError("runs were made on different data; a report covers runs on the same cases")
    out.mkdir(parents=True, exist_ok=True)
    labels = distinct_labels(metrics)
    headers, body = table_rows(metrics)
    first = metrics[0]
    lines = [
        f"# Report: {first.dataset} (split `{first.split}`)",
        "",
        f"Generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} by `{command}`, from the run folders "
        "listed at the end.",
        "",
        "## Leaderboard",
        "",
        "Dice: pooled max-Dice ×100 per lesion-size bin (oracle threshold); AUPRC: pooled pixel average precision ×100. "
        f"{interval_note(metrics)} {COMPARISON_NOTE} {CALIBRATED_NOTE} {seeds_note('Dice all')}",
        "",
        tabulate(body, headers=headers, tablefmt="github", disable_numparse=True),
        "",
    ]
    pairs = compare_pairs(metrics, "dice all", [m.case_dice for m in metrics])
    if pairs:
        figures.significance_matrix(labels, pairs, out / "significance.png")
        lines += [line for part in pairs_section(metrics) for line in (part, "")]
        lines += ["![significance matrix of the oracle Dice all](significance.png)", ""]
    curves = {}
    arrays = {}
    for m, label in zip(metrics, labels):
        results = runs.read_results(*runs.run_files(m.folder))
        arrays[label] = results
        scored = results.rows["size_bin"].notna().to_numpy()
        curves[label] = (results.maps[scored].ravel(), results.masks[scored].ravel(), m.auprc)
    figures.pr_curves(curves, out / "pr-curves.png")
    lines += ["## Precision-recall", "", "![pooled pixel precision-recall curves](pr-curves.png)", ""]
    series = sweep_series(metrics)
    if series:
        figures.sweep_plot(series, out / "sweep.png")
        lines += ["## Dice against the noise level", "", "Each point one run; bars: 95 % bootstrap intervals.", "",
                  "![Dice all against T0](sweep.png)", ""]
    lines += ["## Cases", "", "Best, median and worst case of each lesion-size bin by per-case Dice at the run's "
              "pooled threshold: input, reconstruction, anomaly map (0 to the 99.5th percentile of the run's maps), "
              "ground truth.", ""]
    for number, (m, label) in enumerate(zip(metrics, labels), start=1):
        results = arrays[label]
        name = f"cases-{number}-{_slug(label)}.png"
        figures.case_panels(
            panel_rows(m, results.rows["size_bin"].to_numpy()), results.images, results.reconstructions, results.maps,
            results.masks, list(results.rows["case_id"]), m.case_dice, out / name, f"{label} ({m.folder})",
        )
        lines += [f"### {label}", "", f"![cases of {label}]({name})", ""]
    lines += [f"Data manifest sha256: `{first.data_manifest}`", "",
              "Runs: " + ", ".join(f"`{m.folder}` ({m.device})" for m in metrics), ""]
    index = out / "index.md"
    runs.write_text(index, "\n".join(lines))
    return index
