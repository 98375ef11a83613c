"""Figures of runs, drawn from run folders only (matplotlib, no display needed).

- `pr_curves`: pooled pixel precision-recall curve of each run, AUPRC in the legend.
- `sweep_plot`: Dice against the noise level T0 per method, with bootstrap intervals (the THOR
  paper's Fig. 4); `estimate_lines` for any such plot (Dice against NFE, …).
- `froc_curves`: box recall against false-positive regions per image, per run.
- `significance_matrix`: pairwise Δ of a metric, significant cells starred.
- `rank_blobs`: challengeR's blob plot: each run's ranks over the bootstrap resamples.
- `case_panels`: input, reconstruction, anomaly map and ground truth of chosen cases (best, median
  and worst of each lesion-size bin, or by box F1; the paper's Fig. 3 and 5).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from anobench.evaluation.bootstrap import Estimate
from anobench.evaluation.comparisons import PairComparison

DPI = 110
ID_LINE = 24  # characters per caption line: a case id is shown whole, over several lines


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    return path


def _line_style(index: int) -> str:
    """Solid for the first ten lines (matplotlib's ten colours), dashed for the next ten: no two alike."""
    return "-" if index < 10 else "--"


def _legend(axes: Any, outside: bool = False, **style: Any) -> None:
    """The legend where there are labelled lines (matplotlib warns on an empty one); `outside`: to the
    right of the axes, where it covers no curve."""
    if not axes.get_legend_handles_labels()[0]:
        return
    if outside:
        style = {**style, "loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0}
    axes.legend(**style)


def _figure(
    rows: int = 1,
    columns: int = 1,
    figsize: tuple[float, float] | None = None,
    layout: Literal["constrained"] | None = None,
    **subplots: Any,
) -> tuple[Figure, Any]:
    """A figure of its own, not pyplot's: files only, and a notebook's backend is left as it was."""
    figure = Figure(figsize=figsize, layout=layout)
    return figure, figure.subplots(rows, columns, **subplots)


def pr_curves(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]], path: Path) -> Path:
    """`curves`: label → (recall, precision, AUPRC) of the pooled pixels."""
    figure, axes = _figure(figsize=(5.5, 4.5))
    for index, (label, (recall, precision, auprc)) in enumerate(curves.items()):
        style = _line_style(index)
        axes.plot(recall, precision, style, label=f"{label} (AUPRC {100 * auprc:.1f})", linewidth=1.4)
    axes.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="Pixel precision-recall (pooled)")
    axes.grid(alpha=0.3)
    _legend(axes, outside=True, fontsize=7)
    return _save(figure, path)


def froc_curves(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], path: Path) -> Path:
    """`curves`: label → (false-positive regions per image, box recall), one point per threshold.
    Drawn as the best recall at ≤ k false positives (the boards' R@kFP), since a lower threshold can
    merge regions and lose recall, so the raw points need not rise with k."""
    figure, axes = _figure(figsize=(5.5, 4.5))
    for index, (label, (false_positives, recall)) in enumerate(curves.items()):
        order = np.argsort(false_positives, kind="stable")
        best = np.maximum.accumulate(np.nan_to_num(recall[order]))
        axes.step(false_positives[order], best, _line_style(index), where="post", label=label, linewidth=1.4)
    axes.set_xscale("symlog", linthresh=0.1)
    axes.set(xlabel="false-positive regions per image", ylabel="box recall", ylim=(0, 1.02), title="FROC")
    axes.grid(alpha=0.3)
    _legend(axes, outside=True, fontsize=7)
    return _save(figure, path)


def estimate_lines(
    series: Mapping[str, Sequence[tuple[float, Estimate]]],
    path: Path,
    xlabel: str,
    title: str,
    ylabel: str = "Dice all ×100",
    log_x: bool = False,
) -> Path:
    """One line per label through (x, estimate) points, the intervals as error bars."""
    figure, axes = _figure(figsize=(5.5, 4))
    for label, points in series.items():
        points = sorted(points)
        xs = np.array([x for x, _ in points])
        values = np.array([100 * e.value for _, e in points])
        errors = np.array([[100 * (e.value - e.low), 100 * (e.high - e.value)] for _, e in points]).T
        axes.errorbar(xs, values, yerr=np.nan_to_num(errors), marker="o", capsize=3, label=label)
    if log_x:  # ticks at the points themselves, written plainly
        axes.set_xscale("log")
        axes.minorticks_off()
        ticks = sorted({x for points in series.values() for x, _ in points})
        axes.set_xticks(ticks, [f"{x:g}" for x in ticks])
    axes.set(xlabel=xlabel, ylabel=ylabel, title=title)
    axes.grid(alpha=0.3)
    _legend(axes, fontsize=8)
    return _save(figure, path)


def sweep_plot(series: Mapping[str, Sequence[tuple[int, Estimate]]], path: Path) -> Path:
    """Dice against the noise level T0, one line per method (the THOR paper's Fig. 4)."""
    return estimate_lines(series, path, "noise level T0", "Dice all against the noise level")


def significance_matrix(
    labels: Sequence[str], pairs: Sequence[PairComparison], path: Path, metric: str = "Dice all"
) -> Path:
    """Δ `metric` (row − column) ×100; * where the difference is significant (see comparisons)."""
    size = len(labels)
    delta = np.full((size, size), np.nan)
    starred = np.zeros((size, size), bool)
    for pair in pairs:
        for row, column, sign in ((pair.first, pair.second, 1), (pair.second, pair.first, -1)):
            delta[row, column] = sign * 100 * pair.difference.value
            starred[row, column] = pair.significant
    limit = max(float(np.nanmax(np.abs(delta))) if np.isfinite(delta).any() else 1.0, 1e-6)
    figure, axes = _figure(figsize=(1.2 * size + 2.5, 1.0 * size + 1.5))
    image = axes.imshow(delta, cmap="RdBu", vmin=-limit, vmax=limit)
    for row in range(size):
        for column in range(size):
            if np.isfinite(delta[row, column]):
                text = f"{delta[row, column]:+.1f}{'*' if starred[row, column] else ''}"
                colour = "white" if abs(delta[row, column]) > 0.6 * limit else "black"
                axes.text(column, row, text, ha="center", va="center", fontsize=8, color=colour)
    axes.set_xticks(range(size), labels, rotation=35, ha="right", fontsize=8)
    axes.set_yticks(range(size), labels, fontsize=8)
    axes.set_title(f"Δ {metric} ×100 (row − column); * significant", fontsize=9)
    figure.colorbar(image, ax=axes, shrink=0.8)
    return _save(figure, path)


def rank_blobs(labels: Sequence[str], frequencies: np.ndarray, reported: np.ndarray, path: Path, metric: str) -> Path:
    """Runs (in their reported order) against ranks: a disc of area ∝ the share of resamples at that
    rank (`frequencies`: runs × ranks), a cross at the reported rank (challengeR's blob plot)."""
    order = np.argsort(reported, kind="stable")
    size = len(labels)
    figure, axes = _figure(figsize=(1.0 * size + 2.5, 0.6 * size + 2.0))
    columns, ranks = np.meshgrid(np.arange(size), np.arange(1, size + 1), indexing="ij")
    shares = frequencies[order]
    shown = shares > 0
    axes.scatter(columns[shown], ranks[shown], s=600 * shares[shown], color="tab:blue", alpha=0.6, linewidths=0)
    axes.scatter(np.arange(size), reported[order], marker="x", color="black", s=40, label="reported rank")
    axes.set_xticks(range(size), [labels[i] for i in order], rotation=35, ha="right", fontsize=8)
    axes.set_yticks(range(1, size + 1))
    axes.set(ylim=(size + 0.6, 0.4), ylabel="rank", title=f"Rank of {metric} over the bootstrap resamples")
    axes.grid(alpha=0.3)
    _legend(axes, fontsize=7, loc="lower right")
    return _save(figure, path)


def case_panels(
    rows: Sequence[tuple[str, int]],
    images: np.ndarray | None,
    reconstructions: np.ndarray | None,
    maps: np.ndarray,
    masks: np.ndarray,
    case_ids: Sequence[str],
    case_scores: np.ndarray,
    path: Path,
    title: str,
    score_name: str = "Dice",
    top: float | None = None,
) -> Path:
    """`case_panel_figure`, written to `path`."""
    arrays = (images, reconstructions, maps, masks)
    return _save(case_panel_figure(rows, *arrays, case_ids, case_scores, title, score_name, top), path)


def case_panel_figure(
    rows: Sequence[tuple[str, int]],
    images: np.ndarray | None,
    reconstructions: np.ndarray | None,
    maps: np.ndarray,
    masks: np.ndarray,
    case_ids: Sequence[str],
    case_scores: np.ndarray,
    title: str,
    score_name: str = "Dice",
    top: float | None = None,
) -> Figure:
    """One line per (caption, case position): input, reconstruction, anomaly map, ground truth
    (lesion mask, or the image's boxes filled), the case's whole id and its score ×100 in the caption;
    maps from 0 to `top` (default: the 99.5th percentile of `maps`), read off the colour bar."""
    columns = [
        (name, arrays, colour)
        for name, arrays, colour in (
            ("input", images, "gray"),
            ("reconstruction", reconstructions, "gray"),
            ("anomaly map", maps, "inferno"),
            ("ground truth", masks, "gray"),
        )
        if arrays is not None
    ]
    figure, axes = _figure(
        len(rows),
        len(columns),
        figsize=(2.0 * len(columns) + 0.6, 1.9 * len(rows)),
        squeeze=False,
        layout="constrained",
    )
    top = top if top is not None else float(np.percentile(maps, 99.5)) or 1.0
    for line, (caption, position) in enumerate(rows):
        for column, (name, arrays, colour) in enumerate(columns):
            axis = axes[line, column]
            limits = (0.0, top) if name == "anomaly map" else (0.0, 1.0)
            shown = axis.imshow(
                np.asarray(arrays[position], dtype=np.float32), cmap=colour, vmin=limits[0], vmax=limits[1]
            )
            if name == "anomaly map" and line == 0:
                bar = figure.colorbar(shown, ax=axes[:, column], shrink=0.8, aspect=30)
                bar.set_label("anomaly map value", fontsize=6)
                bar.ax.tick_params(labelsize=6)
            axis.set_xticks([])
            axis.set_yticks([])
            if line == 0:
                axis.set_title(name, fontsize=8)
        case = _wrapped(case_ids[position], ID_LINE)
        axes[line, 0].set_ylabel(f"{caption}\n{case}\n{score_name} {100 * case_scores[position]:.1f}", fontsize=5.5)
    figure.suptitle(title, fontsize=9)
    return figure


def _wrapped(text: str, width: int) -> str:
    """`text` on lines of at most `width` characters, broken after `_`, `-` or `/` where it can be
    (case ids have no spaces); joined again, the lines are `text`."""
    lines: list[str] = []
    for piece in re.split(r"(?<=[_\-/])", text):
        for chunk in [piece[start : start + width] for start in range(0, len(piece), width)]:
            if lines and len(lines[-1]) + len(chunk) <= width:
                lines[-1] += chunk
            else:
                lines.append(chunk)
    return "\n".join(lines)
