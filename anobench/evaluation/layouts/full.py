"""The full board of pixel runs: every metric with its interval, thresholds, calibrated Dice, cost,
the paired comparisons; and its console summary.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from tabulate import tabulate

from anobench.evaluation.calibration import HEALTHY_FPR
from anobench.evaluation.cells import (
    COMPARISON_NOTE,
    COST_HEADERS,
    PAIR_HEADERS,
    board,
    bounds_section,
    calibrated_note,
    calibration_text,
    cost_cells,
    distinct_labels,
    interval_note,
    method_label,
    noise_family,
    pair_cells,
    percent,
    seed_spread,
    seeds_note,
    spread,
    threshold_cell,
    threshold_note,
    training_seeds_note,
    with_interval,
)
from anobench.evaluation.comparisons import PairComparison, compare_pairs, versus_best
from anobench.evaluation.identity import Coverage
from anobench.evaluation.pixel_protocol import BIN_NAMES, RunMetrics


def _calibrated_cells(m: RunMetrics) -> list[str]:
    if m.calibrated is None:
        return ["–", "–"]
    gap = m.intervals["dice all"].value - m.calibrated.dice.value
    text = calibration_text(m.calibrated.threshold, m.calibrated.healthy_fpr, HEALTHY_FPR)
    return [f"{with_interval(m.calibrated.dice)} ({text})", f"{100 * gap:.2f}"]


def table_rows(metrics: list[RunMetrics], pairs: list[PairComparison]) -> tuple[list[str], list[list[str]]]:
    """The full board's rows; `pairs`: the runs' paired comparisons on Dice all (`dice_pairs`)."""
    headers = ["method", "noise", "T0", "stride"]
    headers += [f"Dice {name}" for name in BIN_NAMES] + ["Dice all", "≠ best", "τ s/m/l/all", "AUPRC"]
    headers += ["Dice calibrated", "gap", "Dice all over seeds"]
    retrained = any(m.training_seed_values for m in metrics)  # the column only where rows merge training seeds
    headers += ["Dice all over training seeds"] if retrained else []
    headers += ["cases s/m/l", *COST_HEADERS]
    verdicts = versus_best(len(metrics), [m.headline for m in metrics], pairs)
    body = []
    for m, verdict in zip(metrics, verdicts):
        body.append(
            [
                method_label(m.run),
                str(m.run.settings.get("noise", "–")),
                str(m.run.settings.get("t0", "–")),
                str(m.run.settings.get("stride", "–")),
                *[with_interval(m.intervals[f"dice {name}"]) for name in [*BIN_NAMES, "all"]],
                verdict,
                "/".join(threshold_cell(m.dice[name]) for name in [*BIN_NAMES, "all"]),
                with_interval(m.intervals["auprc"]),
                *_calibrated_cells(m),
                seed_spread(m),
                *([spread(m.training_seed_values)] if retrained else []),
                "/".join(str(m.cases_per_bin[name]) for name in BIN_NAMES),
                *cost_cells(m.run),
            ]
        )
    return headers, body


def dice_pairs(metrics: list[RunMetrics], calibrated: bool = False) -> list[PairComparison]:
    """Every pair of runs compared on Dice all (oracle, or `calibrated`)."""
    if calibrated:
        return compare_pairs(metrics, "dice calibrated", [m.calibrated.case_dice for m in metrics])  # type: ignore[union-attr]
    return compare_pairs(metrics, "dice all", [m.case_dice for m in metrics])


def pairs_section(metrics: list[RunMetrics], pairs: list[PairComparison]) -> list[str]:
    """Paired comparisons on Dice all (`pairs`, from `dice_pairs`), and on calibrated Dice when every
    run has it."""
    if not pairs:
        return []
    labels = distinct_labels([m.run for m in metrics])
    section = [
        "## Paired comparisons (oracle Dice all)",
        tabulate(
            [pair_cells(labels, p) for p in pairs], headers=PAIR_HEADERS, tablefmt="github", disable_numparse=True
        ),
    ]
    if all(m.calibrated is not None for m in metrics):
        headers = ["A", "B", "Δ Dice calibrated (A − B) [95% CI]", *PAIR_HEADERS[3:]]
        rows = [pair_cells(labels, p) for p in dice_pairs(metrics, calibrated=True)]
        section += [
            "## Paired comparisons (calibrated Dice)",
            tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True),
        ]
    return section


def fidelity_section(metrics: list[RunMetrics]) -> list[str]:
    """Restoration on the healthy cases scored with each run (`fidelity`), where any run has it."""
    if all(m.fidelity is None for m in metrics):
        return []
    with_lpips = any(m.fidelity is not None and m.fidelity.lpips is not None for m in metrics)
    headers = ["method", "healthy split", "cases", "MAE ×100 [95% CI]", "SSIM ×100 [95% CI]"]
    headers += ["LPIPS ×100 [95% CI]"] if with_lpips else []
    rows = []
    for label, m in zip(distinct_labels([m.run for m in metrics]), metrics):
        f = m.fidelity
        if f is None:
            rows.append([label, "–", "–", "no reconstruction", "–", *(["–"] if with_lpips else [])])
            continue
        cells = [label, f"`{f.split}`", str(f.cases), with_interval(f.mae), with_interval(f.ssim)]
        rows.append(cells + ([with_interval(f.lpips) if f.lpips is not None else "–"] if with_lpips else []))
    lpips_note = (
        "LPIPS: the lpips v0.1 SqueezeNet distance map."
        if with_lpips
        else "LPIPS is left out: torchvision's ImageNet SqueezeNet weights (squeezenet1_1-b8a52dc0.pth) are not in "
        "the torch hub cache of the machine that made this board."
    )
    note = (
        "Between each healthy input and the method's reconstruction of it, on the healthy cases scored with the run "
        "(`healthy-test`: held-out healthy subjects; `healthy`: the calibration split), each averaged over the brain "
        "(the brain mask, else the input's non-zero pixels), then means over the cases with 95 % percentile bootstrap "
        "intervals: MAE (absolute difference, lower is better) and SSIM (scikit-image's map, Gaussian window "
        f"σ = 1.5, data range 1; higher is better). {lpips_note} Methods without a "
        "reconstruction (or runs without a healthy split) show none."
    )
    table = tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
    return ["## Restoration on healthy slices", note, table]


def render_markdown(metrics: list[RunMetrics], command: str, coverage: Coverage | None = None) -> str:
    first = metrics[0]
    pairs = dice_pairs(metrics)
    headers, body = table_rows(metrics, pairs)
    explanation = (
        f"Dice: pooled max-Dice ×100 per lesion-size bin ({threshold_note(first.thresholds)}, chosen on these "
        "cases; bins scaled to the image size); AUPRC: pooled pixel-level average precision ×100, exact. "
        "τ s/m/l/all: the thresholds attaining each maximum. Cost: NFE per image (median over cases); seconds per "
        "image at batch 1 (cases timed one at a time after a warm-up call) and at the run's batch size (each batch's "
        "time over its size, the first batch left out), median/p90; img/s over the whole run; peak memory (CUDA "
        "memory allocated on a GPU, the process's peak resident set on a CPU). GPU times are CUDA-event times. "
        f"{interval_note(metrics)} {COMPARISON_NOTE} {calibrated_note(first.thresholds)} {seeds_note('Dice all')}"
        + (f" {training_seeds_note('Dice all')}" if any(m.training_seed_values for m in metrics) else "")
    )
    return board(
        f"Leaderboard: {first.run.dataset} (split `{first.run.split}`)",
        explanation,
        headers,
        body,
        [m.run for m in metrics],
        command,
        pairs_section(metrics, pairs) + fidelity_section(metrics) + bounds_section(metrics),
        coverage,
    )


def print_table(metrics: list[RunMetrics], console: Console) -> None:
    """The main columns, one decimal, in 80 characters (the Markdown file has every column and interval)."""
    pairs = dice_pairs(metrics)
    verdicts = versus_best(len(metrics), [m.headline for m in metrics], pairs)
    table = Table(
        title=f"{metrics[0].run.dataset} ({metrics[0].run.split}): Dice and AUPRC ×100",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption="noise: G Gaussian, S simplex; the Markdown file has every column and interval",
    )
    table.add_column("method")
    table.add_column("noise", justify="center")
    for title in ("NFE", "small", "med", "large", "all [95% CI]", "≠ best", "AUPRC"):
        table.add_column(title, justify="right", no_wrap=True)
    for m, verdict in zip(metrics, verdicts):
        table.add_row(
            method_label(m.run),
            noise_family(str(m.run.settings.get("noise", "–")))[:1].upper(),
            f"{m.run.nfe:g}",
            *(percent(m.intervals[f"dice {name}"].value, 1) for name in BIN_NAMES),
            with_interval(m.intervals["dice all"], 1),
            verdict,
            percent(m.intervals["auprc"].value, 1),
        )
    console.print(table)
