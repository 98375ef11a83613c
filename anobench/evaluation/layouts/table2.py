"""The THOR paper's Table 2 layout for box runs (wrist): per-class recall / F1 beside the paper's
reported numbers, the FROC recalls, the paired comparisons on F1 mean; and its console summary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tabulate import tabulate

from anobench.evaluation.bootstrap import RESAMPLES, SEED
from anobench.evaluation.box_metrics import FROC_FALSE_POSITIVES
from anobench.evaluation.box_protocol import BoxRunMetrics
from anobench.evaluation.calibration import HEALTHY_FPR
from anobench.evaluation.cells import (
    PAIR_HEADERS,
    PAPER_NAMES,
    board,
    distinct_labels,
    method_label,
    pair_cells,
    percent,
    seed_spread,
    seeds_note,
    with_interval,
)
from anobench.evaluation.comparisons import PairComparison, compare_pairs
from anobench.evaluation.identity import Coverage
from anobench.evaluation.published import CITATION, TABLE2_DATA, table2

if TYPE_CHECKING:
    from rich.console import Console


def threshold_text(m: BoxRunMetrics) -> str:
    """τ and the healthy false-positive-pixel share it reached (flagged above the target)."""
    flag = "" if m.healthy_fpr <= HEALTHY_FPR else f" > {100 * HEALTHY_FPR:g} %"
    return f"{m.threshold:.3f} ({100 * m.healthy_fpr:.1f} %{flag})"


def _recall_f1(m: BoxRunMetrics, name: str) -> str:
    if name not in m.per_class.index:
        return "–"
    return f"{with_interval(m.class_intervals[(name, 'recall')])} / {with_interval(m.class_intervals[(name, 'f1')])}"


def table2_rows(metrics: list[BoxRunMetrics]) -> tuple[list[str], list[list[str]]]:
    """Each run's row, followed by the paper's reported row of that method where there is one."""
    reported = table2().set_index(["method", "class"])
    classes = metrics[0].classes
    headers = [
        "method",
        "source",
        *classes,
        "F1 mean",
        *(f"R@{k:g}FP" for k in FROC_FALSE_POSITIVES),
        "τ (healthy FPR)",
    ]
    headers += ["NFE/img", "s/img"]
    seeded = any(m.seed_values for m in metrics)
    headers += ["F1 mean over seeds"] if seeded else []
    body: list[list[str]] = []
    for m in metrics:
        body.append(
            [
                method_label(m.run),
                f"anobench, {m.run.dataset}",
                *(_recall_f1(m, name) for name in classes),
                with_interval(m.intervals["f1 mean"]),
                *(with_interval(m.recall_at_fp[k], 1) for k in FROC_FALSE_POSITIVES),
                threshold_text(m),
                f"{m.run.nfe:g}",
                f"{m.run.seconds_per_image:.3f}",
                *([seed_spread(m)] if seeded else []),
            ]
        )
        paper_name = PAPER_NAMES.get(m.run.method)
        if paper_name is not None and paper_name in reported.index.get_level_values(0):
            cells = [
                f"{reported.loc[(paper_name, name), 'recall']:.2f} / {reported.loc[(paper_name, name), 'f1']:.2f}"
                if (paper_name, name) in reported.index
                else "–"
                for name in classes
            ]
            reported_f1 = reported.loc[paper_name, "f1"].mean()
            body.append(
                [
                    paper_name,
                    f"reported ({TABLE2_DATA})",
                    *cells,
                    f"{reported_f1:.2f}",
                    *["–"] * (len(headers) - 3 - len(cells)),
                ]
            )
    return headers, body


def table2_note(metrics: list[BoxRunMetrics]) -> str:
    return (
        "Per class: recall / F1 ×100 by the THOR paper's box protocol (thor-compat: τ from the healthy split "
        "scored with each run, the largest mean healthy FPR ≤ 5 %; TP when more than a tenth of the box is kept; "
        "FP = min(10, ⌊negative-region mass / inside mass⌋), the negative region being the data set's own "
        "where it gives one, else everything outside the image's boxes). "
        "R@kFP: box recall ×100 at k false-positive regions per image "
        "(8-connected components of map ≥ τ; the FROC at its exact operating points: every distinct map value as "
        f"threshold, {froc_counts_text(metrics)}{binned_froc_text(metrics)}). F1 mean: F1 averaged over the classes. "
        f"Brackets: 95 % percentile bootstrap intervals ({RESAMPLES} resamples of the test "
        f"{'patients' if {m.bootstrap_unit for m in metrics} == {'patients'} else 'images'}, seed {SEED}, each "
        "image with all its boxes; τ stays the one chosen on the healthy split). "
        f'Rows marked "reported ({TABLE2_DATA})" are the paper\'s published numbers ({CITATION}, Table 2).'
    ) + (f" {seeds_note('F1 mean')}" if any(m.seed_values for m in metrics) else "")


def binned_froc_text(metrics: list[BoxRunMetrics]) -> str:
    """What differs for runs too large to hold in memory (nothing, when none is)."""
    binned = [str(m.run.folder) for m in metrics if m.froc_search != "exact"]
    if not binned:
        return ""
    return (
        f"; but for {', '.join(binned)}, read a chunk at a time, the thresholds are the floors of fine bins at "
        "evenly spaced ranks of the run's map values"
    )


def froc_counts_text(metrics: list[BoxRunMetrics]) -> str:
    counts = ", ".join(f"{m.froc_thresholds:,}" for m in metrics)
    return f"{counts} thresholds for the runs in board order"


def box_pairs(metrics: list[BoxRunMetrics]) -> list[PairComparison]:
    return compare_pairs(metrics, "f1 mean", [m.case_f1 for m in metrics])


def box_pairs_section(metrics: list[BoxRunMetrics], pairs: list[PairComparison]) -> list[str]:
    """Paired comparisons on F1 mean (`pairs`, from `box_pairs`; Wilcoxon on per-image mean F1)."""
    if not pairs:
        return []
    labels = distinct_labels([m.run for m in metrics])
    headers = ["A", "B", "Δ F1 mean (A − B) [95% CI]", *PAIR_HEADERS[3:]]
    table = tabulate([pair_cells(labels, p) for p in pairs], headers=headers, tablefmt="github", disable_numparse=True)
    return ["## Paired comparisons (F1 averaged over classes; Wilcoxon on per-image mean F1)", table]


def render_table2(metrics: list[BoxRunMetrics], command: str, coverage: Coverage | None = None) -> str:
    headers, body = table2_rows(metrics)
    first = metrics[0]
    title = f"Table 2 layout: {first.run.dataset} (split `{first.run.split}`) beside the THOR paper"
    return board(
        title,
        table2_note(metrics),
        headers,
        body,
        [m.run for m in metrics],
        command,
        box_pairs_section(metrics, box_pairs(metrics)),
        coverage,
    )


def print_table2(metrics: list[BoxRunMetrics], console: Console) -> None:
    """Per-class F1 and the FROC summary of each run (the Markdown file adds recall and the paper's rows)."""
    from rich import box
    from rich.table import Table

    classes = metrics[0].classes
    table = Table(
        title=f"{metrics[0].run.dataset} ({metrics[0].run.split}): box F1 and FROC recall ×100",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("method", no_wrap=True)
    for name in (*(label[:5] for label in classes), "mean", *(f"R@{k:g}" for k in FROC_FALSE_POSITIVES), "τ"):
        table.add_column(name, justify="right", no_wrap=True)
    for m in metrics:
        f1 = [percent(m.per_class.loc[n, "f1"], 1) if n in m.per_class.index else "–" for n in classes]
        froc_cells = [percent(m.recall_at_fp[k].value, 1) for k in FROC_FALSE_POSITIVES]
        table.add_row(
            method_label(m.run), *f1, percent(m.intervals["f1 mean"].value, 1), *froc_cells, f"{m.threshold:.3f}"
        )
    console.print(table)
