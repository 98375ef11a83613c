"""The text of boards: cells (values with intervals, labels, cost), the notes that explain them, and
the page frame every board shares.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from tabulate import tabulate

from anobench.evaluation.bootstrap import RESAMPLES, SEED, Estimate
from anobench.evaluation.comparisons import PairComparison
from anobench.evaluation.identity import Coverage, RunIdentity
from anobench.evaluation.pixel_metrics import MaxDice
from anobench.evaluation.pixel_protocol import RunMetrics


def percent(value: float, decimals: int = 2) -> str:
    """A fraction as a ×100 cell; NaN (nothing to measure) as a dash."""
    return "–" if np.isnan(value) else f"{100 * value:.{decimals}f}"


def threshold_text(threshold: float) -> str:
    """A map threshold to 3 significant digits: maps live on any scale (ANDi's deviations are ~1e-5)."""
    return f"{threshold:.3g}"


def threshold_cell(value: MaxDice) -> str:
    return "–" if np.isnan(value.threshold) else threshold_text(value.threshold)


# settings that tell rows of one method apart; a true flag shows as its name, a false one not at all
VARIANT_SETTINGS = ("preset", "protocol", "perceptual", "stitching", "postprocess", "sampler", "precision", "compile")

UNSHOWN_DEFAULTS = {"sampler": "ddpm", "precision": "fp32"}  # the usual value is not spelled out in every label
OWN_VARIANT = "variant"  # a method's settings key: its own text for a non-default configuration


def method_label(run: RunIdentity) -> str:
    """The method's name with the settings that make it a variant: the common ones above, then the
    method's own `variant` setting (a plugin names its variants there; see docs/plugins.md)."""
    variant = [
        key if value is True else str(value)
        for key, value in ((key, run.settings.get(key)) for key in VARIANT_SETTINGS)
        if value is not None and value is not False and UNSHOWN_DEFAULTS.get(key) != value
    ]
    own = run.settings.get(OWN_VARIANT)
    variant += [own] if isinstance(own, str) and own else []
    return f"{run.method} ({', '.join(variant)})" if variant else run.method


def with_interval(estimate: Estimate, decimals: int = 2) -> str:
    """A cell ×100: `value [lo, hi]`, or the value alone when there is no interval."""
    if np.isnan(estimate.value) or np.isnan(estimate.low):
        return percent(estimate.value, decimals)
    return f"{percent(estimate.value, decimals)} [{percent(estimate.low, 1)}, {percent(estimate.high, 1)}]"


def calibration_text(threshold: float, healthy_fpr: float, target: float) -> str:
    """τ and the share of healthy pixels it really leaves above it, flagged when above the target."""
    reached = f"τ {threshold_text(threshold)}, healthy {100 * healthy_fpr:.1f} %"
    return reached if healthy_fpr <= target else f"{reached}: above the {100 * target:g} % target, no τ reaches it"


DISAMBIGUATING_SETTINGS = ("noise", "t0", "stride", "sampler")


def distinct_labels(identities: list[RunIdentity], by_folder: bool = True) -> list[str]:
    """`method_label`s, with the noise (then T0, stride, sampler, and at last — `by_folder` — the
    folder) added to those that would otherwise read alike, for tables and figures that name runs in pairs."""
    labels = [method_label(run) for run in identities]
    for key in DISAMBIGUATING_SETTINGS:
        values: dict[str, set[str]] = {}
        for label, run in zip(labels, identities):
            values.setdefault(label, set()).add(str(run.settings.get(key, "–")))
        telling = {label for label, seen in values.items() if len(seen) > 1}  # repeated labels this key tells apart
        labels = [
            f"{label} [{run.settings.get(key)}]"
            if label in telling and key == "noise"
            else f"{label} [{key} {run.settings.get(key, '–')}]"
            if label in telling
            else label
            for label, run in zip(labels, identities)
        ]
    repeated = {label for label in labels if labels.count(label) > 1} if by_folder else set()
    return [f"{label} [{run.folder.name}]" if label in repeated else label for label, run in zip(labels, identities)]


COST_HEADERS = ["NFE/img", "s/img batch 1 (med/p90)", "s/img batch N (N; med/p90)", "img/s", "peak MB"]


def cost_cells(run: RunIdentity) -> list[str]:
    """NFE, latency at batch 1 and at the run's batch size, throughput and peak memory."""

    def pair(values: tuple[float, float]) -> str:
        return "–" if np.isnan(values[0]) else f"{values[0]:.3f}/{values[1]:.3f}"

    return [
        f"{run.nfe:g}",
        pair(run.latency_one),
        f"{run.batch_size}; {pair(run.latency_batch)}",
        "–" if np.isnan(run.images_per_second) else f"{run.images_per_second:.2f}",
        "–" if np.isnan(run.peak_memory_mb) else f"{run.peak_memory_mb:.0f}",
    ]


def pair_cells(labels: list[str], pair: PairComparison) -> list[str]:
    """A, B, Δ (A − B) ×100 [CI], both Holm-adjusted p-values, verdict."""
    difference = pair.difference
    return [
        labels[pair.first],
        labels[pair.second],
        f"{100 * difference.value:+.2f} [{100 * difference.low:+.1f}, {100 * difference.high:+.1f}]",
        p_value_text(pair.p_bootstrap),
        p_value_text(pair.p_wilcoxon),
        "yes" if pair.significant else "no",
    ]


def p_value_text(p: float) -> str:
    """A p-value; a bootstrap p of 0 means below the resolution of the resamples."""
    return "–" if np.isnan(p) else f"< {1 / RESAMPLES:g}" if p == 0 else f"{p:.3g}"


PAIR_HEADERS = ["A", "B", "Δ Dice all (A − B) [95% CI]", "p bootstrap (Holm)", "p Wilcoxon (Holm)", "significant"]


def interval_note(metrics: list[RunMetrics]) -> str:
    unit = "subjects (several slices per subject)" if {m.bootstrap_unit for m in metrics} == {"subjects"} else "cases"
    poisson = any(m.resampling == "poisson" for m in metrics)
    drawn = f"{RESAMPLES} Poisson resamples" if poisson else f"{RESAMPLES} resamples"
    how = (
        " Poisson bootstrap: each of the many units drawn Poisson(1) times per resample, so the resamples are "
        "drawn where the cases are read."
        if poisson
        else ""
    )
    return (
        f"Brackets: 95 % percentile bootstrap intervals ({drawn} of the {unit}, seed {SEED}, the "
        f"pooled metric recomputed on each).{how}"
    )


COMPARISON_NOTE = (
    "≠ best: whether the run's Dice all differs significantly from the best run's (paired bootstrap and Wilcoxon "
    "signed-rank on per-case Dice, both Holm-corrected over all pairs, both p < 0.05)."
)


def threshold_note(thresholds: str) -> str:
    """How the oracle threshold was searched, for a board's explanation."""
    if thresholds == "grid":
        return (
            "oracle threshold from the THOR paper's grid τ ∈ {0, 0.01, …, 1}, anomalous where map > τ "
            "(`--thresholds grid`)"
        )
    if thresholds == "binned":
        return (
            "oracle threshold binned: the best of the thresholds at the floors of 2^20 fixed bins of the map "
            "values, each 0.05 % of its binade wide, anomalous where map ≥ τ; the exact maximum lies in the "
            "bounds of the section 'Binned search' (`--thresholds binned`, chosen by `auto` for runs too large "
            "to search exactly in memory)"
        )
    return "oracle threshold exact: every distinct map value τ tried, anomalous where map ≥ τ (`--thresholds exact`)"


def bounds_section(metrics: list[RunMetrics]) -> list[str]:
    """Where each binned value's exact value lies (empty for boards searched exactly or on the grid)."""
    binned = [m for m in metrics if m.bounds]
    if not binned:
        return []
    names = [name for name in binned[0].bounds if name.startswith("dice ")]
    headers = ["run", *[f"{name.capitalize()} (binned) ≤ exact ≤" for name in names], "AUPRC exact in"]

    def cell(value: float, bound: tuple[float, float]) -> str:
        return "–" if np.isnan(value) else f"{percent(bound[0], 3)} ≤ · ≤ {percent(bound[1], 3)}"

    body = [
        [
            f"`{m.run.folder}`",
            *[cell(m.dice[name.removeprefix("dice ")].dice, m.bounds[name]) for name in names],
            cell(m.auprc, m.bounds["auprc"]),
        ]
        for m in binned
    ]
    return [
        "## Binned search",
        "The runs are too large for the exact search in memory: their maps were read a chunk at a time into "
        "histograms over fine bins. Each max-Dice is the Dice at an exact threshold (a bin's floor) and can fall "
        "short of the exact maximum by at most its bound; AUPRC takes each bin's pixels as tied, and the exact "
        "AUPRC lies between what any order and ties inside the bins give. Intervals: each resample searched at "
        "up to 2048 cuts per lesion-size bin, at evenly spaced ranks of its lesion pixels. The calibrated Dice "
        "is exact. ×100, three decimals.",
        tabulate(body, headers=headers, tablefmt="github", disable_numparse=True),
    ]


def calibrated_note(thresholds: str) -> str:
    candidates = "threshold of the grid" if thresholds == "grid" else "map value"  # binned: exact, as `exact`
    return (
        f"Dice calibrated: Dice all at the smallest {candidates} leaving ≤ 5 % of the healthy validation pixels above "
        "it (the healthy split scored with the run, `--healthy-split auto`), no test label used; the cell gives τ and "
        "the healthy-pixel share it really leaves above it (flagged when no τ reaches 5 %); gap = oracle − calibrated."
    )


def seeds_note(headline: str) -> str:
    return (
        f"{headline} over seeds: mean ± sd (and range) of {headline} over inference seeds, for runs that differ only "
        "in their seed (`anobench run --seeds 0,1,2`); the row's other cells are the lowest seed's. This is the "
        "spread of the sampling, separate from the intervals, which resample the cases."
    )


def training_seeds_note(headline: str) -> str:
    return (
        f"{headline} over training seeds: mean ± sd (and range) of {headline} over runs whose denoisers differ only in "
        "their training seed (`anobench train --seed`), merged into one row: its estimates are the mean over the "
        "seeds and its intervals a two-level bootstrap (each resample draws the training seeds with replacement and "
        "the cases; the same seed draws for every row, so paired comparisons pair runs of one training seed), which "
        "covers the spread of training as well as the cases'; thresholds and costs are the lowest seed's."
    )


def seed_spread(m: Any) -> str:
    """mean ± sd (n, range) ×100 of the headline number over the merged seeds; a dash for a single run."""
    return spread(m.seed_values)


def spread(values: Sequence[float]) -> str:
    """mean ± sd (n, range) ×100 of per-seed values; a dash for fewer than two."""
    if len(values) < 2:
        return "–"
    scaled = 100 * np.array(values)
    return f"{scaled.mean():.2f} ± {scaled.std(ddof=1):.2f} (n={len(scaled)}, {scaled.min():.1f}–{scaled.max():.1f})"


def board(
    title: str,
    explanation: str,
    headers: list[str],
    body: list[list[str]],
    identities: Sequence[RunIdentity],
    command: str,
    sections: list[str] | None = None,
    coverage: Coverage | None = None,
    manifests: str | None = None,
) -> str:
    """A board's Markdown page; `manifests`: the data line of runs of several data sets (one manifest
    each) instead of the one data manifest they share."""
    lines = [
        f"# {title}",
        "",
        f"Made by `{command}` from the per-case rows and stored maps of the runs below (when each ran: their "
        "provenance.json); the same runs give the same file, byte for byte.",
        "",
        explanation,
        "",
        *([coverage.note(), ""] if coverage is not None else []),
        tabulate(body, headers=headers, tablefmt="github", disable_numparse=True),
        "",
        *[line for section_line in (sections or []) for line in (section_line, "")],
        manifests or f"Data manifest sha256: `{identities[0].data_manifest}`",
        "",
        "Runs: " + ", ".join(f"`{run.folder}` ({run.device})" for run in identities),
        "",
    ]
    return "\n".join(lines)


PAPER_NAMES = {"thor": "THOR", "ddpm": "DDPM", "autoddpm": "AutoDDPM", "anoddpm": "AnoDDPM", "pddpm": "pDDPM"}


def noise_family(noise: str) -> str:
    """gaussian, or simplex for every simplex variant (normalised, 2-D): the paper's two groups."""
    return "simplex" if noise.startswith("simplex") else noise
