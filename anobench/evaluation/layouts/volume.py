"""The volume board: the field's per-subject protocol, one row per run, the maps as they are and
after the releases' 3-D post-processing side by side, with paired comparisons and rank stability."""

from __future__ import annotations

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table
from tabulate import tabulate

from anobench.evaluation.bootstrap import RESAMPLES, SEED
from anobench.evaluation.cells import (
    PAIR_HEADERS,
    board,
    distinct_labels,
    pair_cells,
    percent,
    threshold_text,
    with_interval,
)
from anobench.evaluation.comparisons import PairComparison, compare_pairs
from anobench.evaluation.identity import Coverage
from anobench.evaluation.ranking import rank_stability
from anobench.evaluation.volume_protocol import FPR_TARGETS, VARIANTS, VolumeRunMetrics
from anobench.evaluation.volumes import LESION_SIZE_BINS, MEDIAN_SIZE, SMALLEST_COMPONENT

FIRST = FPR_TARGETS[0]
HEADLINE = f"dice {FIRST:g}"


def _depth_text(depth: tuple[int, int, int, int]) -> str:
    fewest, most, lowest, highest = depth
    count = f"{fewest}" if fewest == most else f"{fewest}–{most}"
    return f"{count} per subject, slice positions {lowest}–{highest}"


def _fpr_cell(mean: float, sd: float, largest: float) -> str:
    return "–" if np.isnan(mean) else f"{100 * mean:.2f} ± {100 * sd:.2f} (max {100 * largest:.2f})"


def _count_cell(value: float) -> str:
    return "–" if np.isnan(value) else f"{value:.1f}"


def variant_rows(metrics: list[VolumeRunMetrics], variant: str) -> tuple[list[str], list[list[str]]]:
    labels = distinct_labels([m.run for m in metrics])
    stability = rank_stability(
        np.array([m.variants[variant].dice[FIRST].value for m in metrics]),
        np.stack([m.variants[variant].resampled[HEADLINE] for m in metrics]),
    )
    percents = [f"{100 * t:g} %" for t in FPR_TARGETS]
    headers = [
        "method",
        *[f"Dice @{p} FPR mean" for p in percents],
        f"Dice @{percents[0]} median",
        "best Dice mean",
        "AUPRC per subject",
        "AUPRC pooled",
        f"lesion F1 @{percents[0]}",
        f"FP lesions/subject @{percents[0]}",
        f"healthy FPR @{percents[0]} (mean ± sd, max)",
        "subject AP",
        "slice AP",
        "P(rank 1)",
        "mean rank",
        "NFE/img",
    ]
    body = []
    for index, (m, label) in enumerate(zip(metrics, labels)):
        scores = m.variants[variant]
        lesions = scores.lesion_wise[FIRST]
        body.append(
            [
                label,
                *[with_interval(scores.dice[t]) for t in FPR_TARGETS],
                with_interval(scores.dice_median[FIRST]),
                with_interval(scores.best_dice),
                with_interval(scores.subject_auprc),
                percent(scores.pooled_auprc[0]),
                percent(lesions["f1"]),
                "–"
                if np.isnan(lesions["false positives per subject"])
                else f"{lesions['false positives per subject']:.1f}",
                _fpr_cell(*scores.healthy_fpr[FIRST]),
                with_interval(scores.subject_detection["ap"]),
                with_interval(m.slice_detection["ap"]),
                f"{100 * stability.first[index]:.0f} %",
                f"{stability.mean_rank[index]:.2f}",
                f"{m.run.nfe:g}",
            ]
        )
    return headers, body


def _thresholds_section(metrics: list[VolumeRunMetrics]) -> list[str]:
    labels = distinct_labels([m.run for m in metrics])
    headers = ["method", *[f"τ @{100 * t:g} % ({variant})" for variant in VARIANTS for t in FPR_TARGETS]]
    body = [
        [
            label,
            *[
                f"{threshold_text(tau)} ({100 * share:.2f} %)"
                for variant in VARIANTS
                for tau, share in (m.variants[variant].thresholds[t] for t in FPR_TARGETS)
            ],
        ]
        for m, label in zip(metrics, labels)
    ]
    return [
        "## Thresholds",
        "Each τ with the share of the healthy validation subjects' brain voxels it leaves above it.",
        tabulate(body, headers=headers, tablefmt="github", disable_numparse=True),
    ]


def _lesion_sizes_section(metrics: list[VolumeRunMetrics]) -> list[str]:
    labels = distinct_labels([m.run for m in metrics])
    first = metrics[0].variants[VARIANTS[0]].lesion_wise[FIRST]
    bins = [f"{name} ({first[f'lesions {name}']:.0f})" for name, _, _ in LESION_SIZE_BINS]
    headers = ["method", *[f"{bin_} {variant}" for variant in VARIANTS for bin_ in bins]]
    body = [
        [
            label,
            *[
                percent(m.variants[variant].lesion_wise[FIRST][f"sensitivity {name}"])
                for variant in VARIANTS
                for name, _, _ in LESION_SIZE_BINS
            ],
        ]
        for m, label in zip(metrics, labels)
    ]
    limits = ", ".join(
        f"{name} {lower:g} < n ≤ {upper:g}" if np.isfinite(upper) else f"{name} n > {lower:g}"
        for name, lower, upper in LESION_SIZE_BINS
    )
    return [
        f"## Lesion-wise sensitivity by lesion size @{100 * FIRST:g} % FPR",
        f"Share of the 26-connected lesions found, per size bin (voxels n of a lesion with 128×128 slices: "
        f"{limits}; lesions per bin in brackets).",
        tabulate(body, headers=headers, tablefmt="github", disable_numparse=True),
    ]


def volume_pairs(metrics: list[VolumeRunMetrics]) -> list[PairComparison]:
    return compare_pairs(metrics, HEADLINE, [m.subject_dice for m in metrics])


def _pairs_section(metrics: list[VolumeRunMetrics]) -> list[str]:
    pairs = volume_pairs(metrics)
    if not pairs:
        return []
    labels = distinct_labels([m.run for m in metrics])
    headers = ["A", "B", f"Δ Dice @{100 * FIRST:g} % FPR mean (A − B) [95% CI]", *PAIR_HEADERS[3:]]
    return [
        f"## Paired comparisons (Dice @{100 * FIRST:g} % FPR, maps as they are)",
        tabulate([pair_cells(labels, p) for p in pairs], headers=headers, tablefmt="github", disable_numparse=True),
    ]


def render_volume(metrics: list[VolumeRunMetrics], command: str, coverage: Coverage | None = None) -> str:
    first = metrics[0]
    stability = rank_stability(
        np.array([m.headline for m in metrics]), np.stack([m.resampled[HEADLINE] for m in metrics])
    )
    explanation = (
        f"Per test subject ({len(first.subject_ids)}), its slices stacked into its volume, every voxel count "
        "inside the brain mask. Dice @x % FPR: Dice of the map above the threshold leaving at most x % of the "
        "healthy validation subjects' brain voxels above it (no test label used); mean and median over subjects "
        "with a lesion. Best Dice: each subject's Dice at its own best threshold (an oracle). AUPRC per subject: "
        "mean of each subject's voxel average precision; pooled: every subject's brain voxels pooled (fine bins, "
        "pixels of a bin tied). Lesion-wise: 26-connected lesions found when a voxel of theirs is called "
        "anomalous; F1 of that sensitivity and the share of predicted components touching a lesion; false-positive "
        "components per subject. Healthy FPR: the share of brain voxels each held-out healthy subject has above "
        "the threshold (the false positives it really leaves). Subject AP: test subjects against held-out "
        "healthy ones by the mean of their highest 1 % of brain voxels; slice AP: slices with a lesion against "
        "the held-out healthy slices by the run's per-slice score. Post-processed: the releases' 3-D median "
        f"filter ({MEDIAN_SIZE}×{MEDIAN_SIZE}×{MEDIAN_SIZE}) before thresholding (thresholds chosen on filtered "
        f"healthy maps), components of fewer than {SMALLEST_COMPONENT} voxels removed after it. Brackets: 95 % "
        f"percentile bootstrap intervals ({RESAMPLES} resamples of the subjects, seed {SEED}; detection: "
        "positives and negatives resampled apart). P(rank 1), mean rank: the run's rank on Dice @"
        f"{100 * FIRST:g} % FPR in each resample (challengeR's rank stability); Kendall's τ between the "
        f"resampled rankings and the board's: {stability.kendall_tau:.3f} (maps as they are)."
    )
    headers, body = variant_rows(metrics, VARIANTS[0])
    post_headers, post_body = variant_rows(metrics, VARIANTS[1])
    post = [
        "## With the releases' 3-D post-processing",
        tabulate(post_body, headers=post_headers, tablefmt="github", disable_numparse=True),
    ]
    return board(
        f"Volume board: {first.run.dataset} (split `{first.run.split}`), per subject inside the brain "
        f"({len(first.subject_ids)} subjects, {len(first.case_ids)} slices; {_depth_text(first.depth)}; "
        "the maps as they are)",
        explanation,
        headers,
        body,
        [m.run for m in metrics],
        command,
        post + _lesion_sizes_section(metrics) + _thresholds_section(metrics) + _pairs_section(metrics),
        coverage,
    )


def print_volume(metrics: list[VolumeRunMetrics], console: Console) -> None:
    """Dice at the first target, best Dice and lesion F1, both variants, one decimal."""
    table = Table(
        title=f"{metrics[0].run.dataset} ({metrics[0].run.split}): per subject ×100",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption="post: 3-D median filter and small components removed; the Markdown file has every column",
    )
    table.add_column("method")
    for title in (f"Dice@{100 * FIRST:g}%", "best", "lesion F1", f"post Dice@{100 * FIRST:g}%", "post best"):
        table.add_column(title, justify="right", no_wrap=True)
    for m, label in zip(metrics, distinct_labels([m.run for m in metrics])):
        raw, post = (m.variants[v] for v in VARIANTS)
        table.add_row(
            label,
            with_interval(raw.dice[FIRST], 1),
            percent(raw.best_dice.value, 1),
            percent(raw.lesion_wise[FIRST]["f1"], 1),
            with_interval(post.dice[FIRST], 1),
            percent(post.best_dice.value, 1),
        )
    console.print(table)
