"""`anobench compare`: leaderboards computed from run folders only.

Every number is recomputed from the per-case rows and the stored maps and masks; nothing is read
from a summary. Runs on different data (another dataset, split or data manifest) are refused:
their numbers are not comparable.
"""

from __future__ import annotations

import functools
import glob
import json
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table
from tabulate import tabulate

from anobench import runs
from anobench.errors import AnobenchError
from anobench.comparisons import PairComparison, compare_pairs, versus_best
from anobench.metrics import MaxDice
from anobench.pixel_protocol import BIN_NAMES, CALIBRATED_FPR, THRESHOLD_MODES, Calibrated, pixel_scores
from anobench.stats import RESAMPLES, SEED, Estimate, clusters_of, resample_counts


@dataclass(frozen=True)
class RunIdentity:
    """What every board shows of a run besides its metrics: names, data, cost, device."""

    folder: Path
    method: str
    settings: dict[str, Any]
    dataset: str
    split: str
    data_manifest: str
    nfe: float  # medians over cases
    seconds_per_image: float  # median over cases at the run's batch size, first batch left out (warm-up)
    latency_batch: tuple[float, float]  # (median, p90) seconds per image at the run's batch size
    latency_one: tuple[float, float]  # (median, p90) seconds per image at batch size 1, after warm-up
    batch_size: int
    images_per_second: float  # cases / time inside predict, whole run
    peak_memory_mb: float
    device: str
    seed: int  # the inference seed


@dataclass(frozen=True)
class RunMetrics(RunIdentity):
    dice: dict[str, MaxDice]  # per bin and "all"
    cases_per_bin: dict[str, int]
    auprc: float
    intervals: dict[str, Estimate]  # "dice <bin>", "dice all", "auprc": value with its 95 % interval
    resampled: dict[str, np.ndarray]  # the same keys: the metric in each bootstrap resample
    case_ids: tuple[str, ...]
    case_dice: np.ndarray  # per case Dice at the pooled "all" threshold (NaN: not scored)
    bootstrap_unit: str  # "cases" or "subjects"
    calibrated: Calibrated | None
    thresholds: str = "exact"  # how max-Dice and the calibrated τ were searched (pixel_protocol.THRESHOLD_MODES)
    seed_values: tuple[float, ...] = ()  # Dice all of every inference seed, when the run was repeated (merge_seeds)

    @property
    def headline(self) -> float:
        return self.dice["all"].dice


Metrics = TypeVar("Metrics", bound=RunIdentity)


def merge_seeds(metrics: list[Metrics]) -> list[Metrics]:
    """One row per method setting: runs that differ only in their inference seed become the row of
    the lowest seed, carrying every seed's headline number (the spread of sampling, apart from the cases')."""
    groups: dict[tuple[Any, ...], list[Metrics]] = {}
    for m in metrics:
        key = (m.method, json.dumps(m.settings, sort_keys=True, default=str), m.case_ids)
        groups.setdefault(key, []).append(m)
    merged = []
    for group in groups.values():
        if len({m.seed for m in group}) < len(group):  # repeats of one seed are separate rows, not a spread
            merged.extend(group)
            continue
        group.sort(key=lambda m: m.seed)
        if len(group) > 1:
            merged.append(replace(group[0], seed_values=tuple(m.headline for m in group)))  # type: ignore[attr-defined]
        else:
            merged.append(group[0])
    return merged


def seed_spread(m: Any) -> str:
    """mean ± sd (n, range) ×100 of the headline number over the merged seeds; a dash for a single run."""
    if len(m.seed_values) < 2:
        return "–"
    values = 100 * np.array(m.seed_values)
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f} (n={len(values)}, {values.min():.1f}–{values.max():.1f})"


@dataclass(frozen=True)
class Coverage:
    """Which cases the rows of a board were scored on: `cases` common to every run, and per run the
    cases it scored beyond them (left out of the board so that rows compare like with like)."""

    cases: int
    left_out: dict[Path, int]

    @property
    def uneven(self) -> bool:
        return any(self.left_out.values())

    def note(self) -> str:
        if not self.uneven:
            return f"Cases: every run scored the same {self.cases} cases."
        dropped = ", ".join(f"`{folder}` {count}" for folder, count in self.left_out.items() if count)
        return (f"**Warning: the runs did not score the same cases.** Every row and every paired comparison uses "
                f"only the {self.cases} cases common to all runs; cases left out per run: {dropped}.")


def evaluate_runs(folders: list[Path], evaluate: Callable[..., Metrics]) -> tuple[list[Metrics], Coverage]:
    """Every run evaluated on the cases common to all of them (in the first run's order), with a
    warning naming the runs that scored more."""
    scored = [runs.case_ids_of(folder) for folder in folders]
    others = [set(ids) for ids in scored[1:]]
    common = [case_id for case_id in scored[0] if all(case_id in ids for ids in others)]
    if not common:
        raise AnobenchError("the runs have no case in common: " + ", ".join(str(folder) for folder in folders))
    coverage = Coverage(len(common), {folder: len(ids) - len(common) for folder, ids in zip(folders, scored)})
    if coverage.uneven:
        warnings.warn(coverage.note().replace("**", ""), stacklevel=2)
    metrics = [evaluate(folder, cases=None if ids == common else tuple(common)) for folder, ids in zip(folders, scored)]
    return metrics, coverage


def evaluate_run(
    folder: Path, resamples: int = RESAMPLES, seed: int = SEED, cases: tuple[str, ...] | None = None,
    thresholds: str = "exact",
) -> RunMetrics:
    """A mask run's metrics, on the listed `cases` only when given (a board's common cases); `thresholds`:
    exact (every distinct map value) or grid (the paper's 101 values)."""
    if thresholds not in THRESHOLD_MODES:
        raise AnobenchError(f"unknown threshold search {thresholds!r}; available: {', '.join(THRESHOLD_MODES)}")
    runs.check_complete(folder)
    config = runs.read_json(folder / runs.CONFIG)
    provenance = runs.read_json(folder / runs.PROVENANCE)
    results = runs.read_results(*runs.run_files(folder))
    if cases is not None:
        results = runs.select_cases(results, cases)
    if results.masks is None:
        raise AnobenchError(f"run {folder} has no masks: its split ({config['split']}) is not annotated")
    rows = results.rows
    clusters = clusters_of(rows["subject_id"].tolist())
    healthy_rows, healthy_maps = runs.healthy_files(folder)
    healthy = runs.read_results(healthy_rows, healthy_maps).maps if healthy_rows.is_file() else None
    scores = pixel_scores(
        results.maps, results.masks, rows["size_bin"].where(rows["size_bin"].notna(), None).to_numpy(),
        resample_counts(len(rows), resamples, seed, clusters), thresholds, healthy, str(config.get("healthy_split")),
    )
    return RunMetrics(
        **run_identity(folder, config, provenance, rows),
        dice=scores.dice,
        cases_per_bin=scores.cases_per_bin,
        auprc=scores.auprc,
        intervals=scores.intervals,
        resampled=scores.resampled,
        case_ids=tuple(rows["case_id"]),
        case_dice=scores.case_dice,
        bootstrap_unit="subjects" if clusters is not None else "cases",
        calibrated=scores.calibrated,
        thresholds=thresholds,
    )


def _median_p90(values: Any) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return float("nan"), float("nan")
    return float(np.median(values)), float(np.percentile(values, 90))


def run_identity(folder: Path, config: dict[str, Any], provenance: dict[str, Any], rows: Any) -> dict[str, Any]:
    """The `RunIdentity` fields of a run folder, as keyword arguments."""
    timing = provenance.get("timing", {})
    warm = rows[rows["batch"] > 0] if "batch" in rows and (rows["batch"] > 0).any() else rows
    predict_seconds = timing.get("predict_seconds", 0.0)
    return {
        "folder": folder,
        "method": config["method"],
        # how the network ran tells rows apart as much as the method's own settings do
        "settings": {**config.get("method_settings", {}), "precision": config.get("precision", "fp32"),
                     "compile": bool(config.get("compile", False))},
        "dataset": config["dataset"],
        "split": config["split"],
        "data_manifest": provenance.get("data_manifest", ""),
        "nfe": float(rows["nfe"].median()) if len(rows) else float("nan"),
        "seconds_per_image": _median_p90(warm["seconds"])[0],
        "latency_batch": _median_p90(warm["seconds"]),
        "latency_one": _median_p90(timing.get("batch_one_seconds", [])),
        "batch_size": int(rows["batch_size"].max()) if len(rows) else 0,
        "images_per_second": timing.get("cases", 0) / predict_seconds if predict_seconds else float("nan"),
        "peak_memory_mb": timing.get("peak_memory", {}).get("bytes", float("nan")) / 2**20,
        "device": provenance.get("device_name", provenance.get("device", "")),
        "seed": int(config.get("seed", 0)),
    }


def find_runs(targets: list[str], runs_root: Path = Path("runs")) -> list[Path]:
    """Run folders named by path, glob, or dataset name (every finished run under runs/<name>/)."""
    found: list[Path] = []
    for target in targets:
        if any((Path(target) / name).exists() for name in runs.RUN_TRACES):
            runs.check_complete(Path(target))  # a run folder named outright: unfinished or damaged is an error
            found.append(Path(target))
            continue
        matches = [Path(p) for p in sorted(glob.glob(target)) if runs.is_complete(Path(p))]
        if not matches and (runs_root / target).is_dir():
            matches = sorted(p.parent for p in (runs_root / target).glob(f"*/{runs.RESULT_SET}"))
        if not matches:
            raise AnobenchError(f"{target!r} is neither a finished run folder, a glob of them, nor a dataset under {runs_root}/")
        found.extend(matches)
    return list(dict.fromkeys(found))


def percent(value: float, decimals: int = 2) -> str:
    """A fraction as a ×100 cell; NaN (nothing to measure) as a dash."""
    return "–" if np.isnan(value) else f"{100 * value:.{decimals}f}"


def _threshold(value: MaxDice) -> str:
    return "–" if np.isnan(value.threshold) else f"{value.threshold:.2f}"


# settings that tell rows of one method apart; a true flag shows as its name, a false one not at all
VARIANT_SETTINGS = ("preset", "protocol", "perceptual", "stitching", "postprocess", "sampler", "precision", "compile")
UNSHOWN_DEFAULTS = {"sampler": "ddpm", "precision": "fp32"}  # the usual value is not spelled out in every label


def method_label(m: RunIdentity) -> str:
    variant = [
        key if value is True else str(value)
        for key, value in ((key, m.settings.get(key)) for key in VARIANT_SETTINGS)
        if value is not None and value is not False and UNSHOWN_DEFAULTS.get(key) != value
    ]
    return f"{m.method} ({', '.join(variant)})" if variant else m.method


def with_interval(estimate: Estimate, decimals: int = 2) -> str:
    """A cell ×100: `value [lo, hi]`, or the value alone when there is no interval."""
    if np.isnan(estimate.value) or np.isnan(estimate.low):
        return percent(estimate.value, decimals)
    return f"{percent(estimate.value, decimals)} [{percent(estimate.low, 1)}, {percent(estimate.high, 1)}]"


def calibration_text(threshold: float, healthy_fpr: float, target: float) -> str:
    """τ and the share of healthy pixels it really leaves above it, flagged when above the target."""
    reached = f"τ {threshold:.2f}, healthy {100 * healthy_fpr:.1f} %"
    return reached if healthy_fpr <= target else f"{reached}: above the {100 * target:g} % target, no τ reaches it"


def _calibrated_cells(m: RunMetrics) -> list[str]:
    if m.calibrated is None:
        return ["–", "–"]
    gap = m.dice["all"].dice - m.calibrated.dice.value
    text = calibration_text(m.calibrated.threshold, m.calibrated.healthy_fpr, CALIBRATED_FPR)
    return [f"{with_interval(m.calibrated.dice)} ({text})", f"{100 * gap:.2f}"]


DISAMBIGUATING_SETTINGS = ("noise", "t0", "stride", "sampler")


def distinct_labels(metrics: list[RunIdentity]) -> list[str]:
    """`method_label`s, with the noise (then T0, stride, sampler, and at last the folder) added to
    those that would otherwise read alike, for tables and figures that name runs in pairs."""
    labels = [method_label(m) for m in metrics]
    for key in DISAMBIGUATING_SETTINGS:
        values: dict[str, set[str]] = {}
        for label, m in zip(labels, metrics):
            values.setdefault(label, set()).add(str(m.settings.get(key, "–")))
        telling = {label for label, seen in values.items() if len(seen) > 1}  # repeated labels this key tells apart
        labels = [
            f"{label} [{m.settings.get(key)}]" if label in telling and key == "noise"
            else f"{label} [{key} {m.settings.get(key, '–')}]" if label in telling else label
            for label, m in zip(labels, metrics)
        ]
    repeated = {label for label in labels if labels.count(label) > 1}
    return [f"{label} [{m.folder.name}]" if label in repeated else label for label, m in zip(labels, metrics)]


def table_rows(metrics: list[RunMetrics], pairs: list[PairComparison]) -> tuple[list[str], list[list[str]]]:
    """The full board's rows; `pairs`: the runs' paired comparisons on Dice all (`dice_pairs`)."""
    headers = ["method", "noise", "T0", "stride"]
    headers += [f"Dice {name}" for name in BIN_NAMES] + ["Dice all", "≠ best", "τ s/m/l/all", "AUPRC"]
    headers += ["Dice calibrated", "gap", "Dice all over seeds", "cases s/m/l", *COST_HEADERS]
    verdicts = versus_best(len(metrics), [m.dice["all"].dice for m in metrics], pairs)
    body = []
    for m, verdict in zip(metrics, verdicts):
        body.append(
            [
                method_label(m),
                str(m.settings.get("noise", "–")),
                str(m.settings.get("t0", "–")),
                str(m.settings.get("stride", "–")),
                *[with_interval(m.intervals[f"dice {name}"]) for name in [*BIN_NAMES, "all"]],
                verdict,
                "/".join(_threshold(m.dice[name]) for name in [*BIN_NAMES, "all"]),
                with_interval(m.intervals["auprc"]),
                *_calibrated_cells(m),
                seed_spread(m),
                "/".join(str(m.cases_per_bin[name]) for name in BIN_NAMES),
                *cost_cells(m),
            ]
        )
    return headers, body


COST_HEADERS = ["NFE/img", "s/img batch 1 (med/p90)", "s/img batch N (N; med/p90)", "img/s", "peak MB"]


def cost_cells(m: RunIdentity) -> list[str]:
    """NFE, latency at batch 1 and at the run's batch size, throughput and peak memory."""
    def pair(values: tuple[float, float]) -> str:
        return "–" if np.isnan(values[0]) else f"{values[0]:.3f}/{values[1]:.3f}"

    return [
        f"{m.nfe:g}", pair(m.latency_one), f"{m.batch_size}; {pair(m.latency_batch)}",
        "–" if np.isnan(m.images_per_second) else f"{m.images_per_second:.2f}",
        "–" if np.isnan(m.peak_memory_mb) else f"{m.peak_memory_mb:.0f}",
    ]


def dice_pairs(metrics: list[RunMetrics], calibrated: bool = False) -> list[PairComparison]:
    """Every pair of runs compared on Dice all (oracle, or `calibrated`)."""
    if calibrated:
        return compare_pairs(metrics, "dice calibrated", [m.calibrated.case_dice for m in metrics])  # type: ignore[union-attr]
    return compare_pairs(metrics, "dice all", [m.case_dice for m in metrics])


def pair_cells(labels: list[str], pair: PairComparison) -> list[str]:
    """A, B, Δ (A − B) ×100 [CI], both Holm-adjusted p-values, verdict."""
    difference = pair.difference
    return [
        labels[pair.first], labels[pair.second],
        f"{100 * difference.value:+.2f} [{100 * difference.low:+.1f}, {100 * difference.high:+.1f}]",
        p_value_text(pair.p_bootstrap), p_value_text(pair.p_wilcoxon), "yes" if pair.significant else "no",
    ]


def p_value_text(p: float) -> str:
    """A p-value; a bootstrap p of 0 means below the resolution of the resamples."""
    return "–" if np.isnan(p) else f"< {1 / RESAMPLES:g}" if p == 0 else f"{p:.3g}"


PAIR_HEADERS = ["A", "B", "Δ Dice all (A − B) [95% CI]", "p bootstrap (Holm)", "p Wilcoxon (Holm)", "significant"]


def interval_note(metrics: list[RunMetrics]) -> str:
    unit = "subjects (several slices per subject)" if {m.bootstrap_unit for m in metrics} == {"subjects"} else "cases"
    return (
        f"Brackets: 95 % percentile bootstrap intervals ({RESAMPLES} resamples of the {unit}, seed {SEED}, the "
        "pooled metric recomputed on each)."
    )


COMPARISON_NOTE = (
    "≠ best: whether the run's Dice all differs significantly from the best run's (paired bootstrap and Wilcoxon "
    "signed-rank on per-case Dice, both Holm-corrected over all pairs, both p < 0.05)."
)
def threshold_note(thresholds: str) -> str:
    """How the oracle threshold was searched, for a board's explanation."""
    if thresholds == "grid":
        return ("oracle threshold from the THOR paper's grid τ ∈ {0, 0.01, …, 1}, anomalous where map > τ "
                "(`--thresholds grid`)")
    return "oracle threshold exact: every distinct map value τ tried, anomalous where map ≥ τ (`--thresholds exact`)"


def calibrated_note(thresholds: str) -> str:
    candidates = "threshold of the grid" if thresholds == "grid" else "map value"
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


def pairs_section(metrics: list[RunMetrics], pairs: list[PairComparison]) -> list[str]:
    """Paired comparisons on Dice all (`pairs`, from `dice_pairs`), and on calibrated Dice when every
    run has it."""
    if not pairs:
        return []
    labels = distinct_labels(metrics)
    section = ["## Paired comparisons (oracle Dice all)",
               tabulate([pair_cells(labels, p) for p in pairs], headers=PAIR_HEADERS, tablefmt="github",
                        disable_numparse=True)]
    if all(m.calibrated is not None for m in metrics):
        headers = ["A", "B", "Δ Dice calibrated (A − B) [95% CI]", *PAIR_HEADERS[3:]]
        rows = [pair_cells(labels, p) for p in dice_pairs(metrics, calibrated=True)]
        section += ["## Paired comparisons (calibrated Dice)",
                    tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)]
    return section


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
    )
    return board(f"Leaderboard: {first.dataset} (split `{first.split}`)", explanation, headers, body, metrics, command,
                 pairs_section(metrics, pairs), coverage)


def board(
    title: str, explanation: str, headers: list[str], body: list[list[str]], metrics: list[RunMetrics], command: str,
    sections: list[str] | None = None, coverage: Coverage | None = None,
) -> str:
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
        f"Data manifest sha256: `{metrics[0].data_manifest}`",
        "",
        "Runs: " + ", ".join(f"`{m.folder}` ({m.device})" for m in metrics),
        "",
    ]
    return "\n".join(lines)


PAPER_NAMES = {"thor": "THOR", "ddpm": "DDPM", "autoddpm": "AutoDDPM", "anoddpm": "AnoDDPM", "pddpm": "pDDPM"}
TABLE1_SLOTS = [
    ("gaussian", "THOR"), ("gaussian", "DDPM"), ("gaussian", "AutoDDPM"),
    ("simplex", "THOR"), ("simplex", "AnoDDPM"), ("simplex", "pDDPM"),
]


def noise_family(noise: str) -> str:
    """gaussian, or simplex for every simplex variant (normalised, 2-D): the paper's two groups."""
    return "simplex" if noise.startswith("simplex") else noise


def _table1_slot(m: RunMetrics) -> int:
    key = (noise_family(str(m.settings.get("noise", ""))), PAPER_NAMES.get(m.method, m.method))
    return TABLE1_SLOTS.index(key) if key in TABLE1_SLOTS else len(TABLE1_SLOTS)


def render_table1(metrics: list[RunMetrics], command: str, coverage: Coverage | None = None) -> str:
    """The THOR paper's Table 1 layout: each reproduced row followed by the paper's reported row."""
    from anobench.published import CITATION, TABLE1_DATA, table1

    reported = table1().set_index(["noise", "method"])
    headers = ["noise", "method", "source", "Dice average", *(f"Dice {name}" for name in BIN_NAMES)]
    headers += ["AUPRC", "NFE/img", "s/img"]
    seeded = any(m.seed_values for m in metrics)
    headers += ["Dice average over seeds"] if seeded else []
    body: list[list[str]] = []
    shown: set[tuple[str, str]] = set()
    for m in sorted(metrics, key=_table1_slot):
        slot = _table1_slot(m)
        dice = [with_interval(m.intervals[f"dice {name}"]) for name in ["all", *BIN_NAMES]]
        body.append(
            [noise_family(str(m.settings.get("noise", "–"))), method_label(m), f"anobench, {m.dataset}",
             *dice, with_interval(m.intervals["auprc"]), f"{m.nfe:g}", f"{m.seconds_per_image:.3f}",
             *([seed_spread(m)] if seeded else [])]
        )
        if slot < len(TABLE1_SLOTS) and TABLE1_SLOTS[slot] not in shown:
            shown.add(TABLE1_SLOTS[slot])
            row = reported.loc[TABLE1_SLOTS[slot]]
            values = [f"{row[column]:.2f}" for column in ("dice_average", "dice_small", "dice_medium", "dice_large")]
            body.append([TABLE1_SLOTS[slot][0], TABLE1_SLOTS[slot][1], f"reported ({TABLE1_DATA})", *values,
                         *["–"] * (len(headers) - 3 - len(values))])
    first = metrics[0]
    explanation = (
        f"Dice: pooled max-Dice ×100 ({threshold_note(first.thresholds)}, chosen on these cases), \"average\" pooled over all "
        "lesions, then per lesion-size bin; AUPRC: pooled pixel-level average precision ×100; NFE/img and "
        f"s/img: medians over cases. Rows marked \"reported ({TABLE1_DATA})\" are the paper's published "
        f"numbers ({CITATION}, Table 1) on real data; they are not comparable in level with phantom numbers, "
        f"only in ordering. {interval_note(metrics)}" + (f" {seeds_note('Dice average')}" if seeded else "")
    )
    title = f"Table 1 layout: {first.dataset} (split `{first.split}`) beside the THOR paper"
    return board(title, explanation, headers, body, metrics, command, pairs_section(metrics, dice_pairs(metrics)), coverage)


def _layouts() -> dict[str, tuple[Callable[[Path], Any], Callable[[list[Any], str], str]]]:
    from anobench.box_leaderboard import evaluate_box_run, render_table2

    return {
        "full": (evaluate_run, render_markdown),
        "table1": (evaluate_run, render_table1),
        "table2": (evaluate_box_run, render_table2),
    }


LAYOUT_NAMES = ("full", "table1", "table2")


def same_data(metrics: list[Any]) -> None:
    """Refuse runs made on different data (data set, split or data manifest): not comparable."""
    if len({(m.dataset, m.split, m.data_manifest) for m in metrics}) > 1:
        raise AnobenchError(
            "runs were made on different data and cannot share a leaderboard: "
            + "; ".join(f"{m.folder}: {m.dataset}/{m.split} manifest {m.data_manifest[:12]}" for m in metrics)
        )


def compare(
    targets: list[str],
    name: str | None = None,
    out_dir: Path = Path("leaderboards"),
    command: str = "anobench compare",
    layout: str = "full",
    overwrite: bool = False,
    thresholds: str = "exact",
) -> tuple[Path, list[Any]]:
    """Evaluate the runs on their common cases, write `out_dir/<name>.md` in `layout` and return it
    with the metrics. An existing board is replaced only with `overwrite`. `thresholds`: how pixel
    boards search max-Dice and the calibrated τ (exact, or the paper's grid)."""
    if layout not in LAYOUT_NAMES:
        raise AnobenchError(f"unknown layout {layout!r}; available: {', '.join(LAYOUT_NAMES)}")
    if thresholds not in THRESHOLD_MODES:
        raise AnobenchError(f"unknown threshold search {thresholds!r}; available: {', '.join(THRESHOLD_MODES)}")
    evaluate, render = _layouts()[layout]
    if layout != "table2":
        evaluate = functools.partial(evaluate, thresholds=thresholds)
    folders = find_runs(targets)
    if not folders:
        raise AnobenchError("no runs to compare")
    metrics, coverage = evaluate_runs(folders, evaluate)
    same_data(metrics)
    metrics = merge_seeds(metrics)
    path = out_dir / f"{name or metrics[0].dataset}.md"
    if path.exists() and not overwrite:
        raise AnobenchError(f"leaderboard {path} already exists; pass --overwrite to replace it or --name to write another")
    out_dir.mkdir(parents=True, exist_ok=True)
    runs.write_text(path, render(metrics, command, coverage))
    return path, metrics


def print_table(metrics: list[RunMetrics], console: Console) -> None:
    """The main columns, one decimal, in 80 characters (the Markdown file has every column and interval)."""
    pairs = dice_pairs(metrics)
    verdicts = versus_best(len(metrics), [m.dice["all"].dice for m in metrics], pairs)
    table = Table(
        title=f"{metrics[0].dataset} ({metrics[0].split}): Dice and AUPRC ×100",
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
            method_label(m), noise_family(str(m.settings.get("noise", "–")))[:1].upper(), f"{m.nfe:g}", *(percent(m.intervals[f"dice {name}"].value, 1) for name in BIN_NAMES),
            with_interval(m.intervals["dice all"], 1), verdict, percent(m.intervals["auprc"].value, 1),
        )
    console.print(table)
