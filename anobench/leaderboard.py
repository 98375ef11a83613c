"""`anobench compare`: leaderboards computed from run folders only.

Every number is recomputed from the per-case rows and the stored maps and masks; nothing is read
from a summary. Runs on different data (another dataset, split or data manifest) are refused:
their numbers are not comparable.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table
from tabulate import tabulate

from anobench import runs
from anobench.errors import AnobenchError
from anobench.metrics import SIZE_BINS, MaxDice, average_precision, pooled_max_dice, threshold_counts

BIN_NAMES = [name for name, _, _ in SIZE_BINS]


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
    seconds_per_image: float
    device: str


@dataclass(frozen=True)
class RunMetrics(RunIdentity):
    dice: dict[str, MaxDice]  # per bin and "all"
    cases_per_bin: dict[str, int]
    auprc: float


def evaluate_run(folder: Path) -> RunMetrics:
    config = runs.read_json(folder / runs.CONFIG)
    provenance = runs.read_json(folder / runs.PROVENANCE)
    results = runs.read_results(*runs.run_files(folder))
    if results.masks is None:
        raise AnobenchError(f"run {folder} has no masks: its split ({config['split']}) is not annotated")
    rows = results.rows
    scored = rows["size_bin"].notna().to_numpy()
    counts = [threshold_counts(m, g) if s else None for m, g, s in zip(results.maps, results.masks, scored)]
    dice: dict[str, MaxDice] = {}
    cases_per_bin: dict[str, int] = {}
    for name in BIN_NAMES:
        members = [c for c, b in zip(counts, rows["size_bin"]) if b == name]
        dice[name], cases_per_bin[name] = pooled_max_dice(members), len(members)
    dice["all"] = pooled_max_dice([c for c in counts if c is not None])
    cases_per_bin["all"] = int(scored.sum())
    return RunMetrics(
        **run_identity(folder, config, provenance, rows),
        dice=dice,
        cases_per_bin=cases_per_bin,
        auprc=average_precision(results.maps[scored], results.masks[scored]) if scored.any() else float("nan"),
    )


def run_identity(folder: Path, config: dict[str, Any], provenance: dict[str, Any], rows: Any) -> dict[str, Any]:
    """The `RunIdentity` fields of a run folder, as keyword arguments."""
    return {
        "folder": folder,
        "method": config["method"],
        "settings": config.get("method_settings", {}),
        "dataset": config["dataset"],
        "split": config["split"],
        "data_manifest": provenance.get("data_manifest", ""),
        "nfe": float(rows["nfe"].median()) if len(rows) else float("nan"),
        "seconds_per_image": float(rows["seconds"].median()) if len(rows) else float("nan"),
        "device": provenance.get("device_name", provenance.get("device", "")),
    }


def find_runs(targets: list[str], runs_root: Path = Path("runs")) -> list[Path]:
    """Run folders named by path, glob, or dataset name (every finished run under runs/<name>/)."""
    found: list[Path] = []
    for target in targets:
        if (Path(target) / runs.CASES).is_file():
            found.append(Path(target))
            continue
        matches = [Path(p) for p in sorted(glob.glob(target)) if (Path(p) / runs.CASES).is_file()]
        if not matches and (runs_root / target).is_dir():
            matches = sorted(p.parent for p in (runs_root / target).glob(f"*/{runs.CASES}"))
        if not matches:
            raise AnobenchError(f"{target!r} is neither a finished run folder, a glob of them, nor a dataset under {runs_root}/")
        found.extend(matches)
    return list(dict.fromkeys(found))


def _percent(value: float) -> str:
    return "–" if np.isnan(value) else f"{100 * value:.2f}"


def _threshold(value: MaxDice) -> str:
    return "–" if np.isnan(value.threshold) else f"{value.threshold:.2f}"


# settings that tell rows of one method apart; a true flag shows as its name, a false one not at all
VARIANT_SETTINGS = ("preset", "protocol", "perceptual", "stitching", "postprocess")


def method_label(m: RunMetrics) -> str:
    variant = [
        key if value is True else str(value)
        for key, value in ((key, m.settings.get(key)) for key in VARIANT_SETTINGS)
        if value is not None and value is not False
    ]
    return f"{m.method} ({', '.join(variant)})" if variant else m.method


def table_rows(metrics: list[RunMetrics]) -> tuple[list[str], list[list[str]]]:
    headers = ["method", "noise", "T0", "stride", "NFE/img", "s/img"]
    headers += [f"Dice {name}" for name in BIN_NAMES] + ["Dice all", "τ s/m/l/all", "AUPRC", "cases s/m/l"]
    body = []
    for m in metrics:
        body.append(
            [
                method_label(m),
                str(m.settings.get("noise", "–")),
                str(m.settings.get("t0", "–")),
                str(m.settings.get("stride", "–")),
                f"{m.nfe:g}",
                f"{m.seconds_per_image:.3f}",
                *[_percent(m.dice[name].dice) for name in BIN_NAMES],
                _percent(m.dice["all"].dice),
                "/".join(_threshold(m.dice[name]) for name in [*BIN_NAMES, "all"]),
                _percent(m.auprc),
                "/".join(str(m.cases_per_bin[name]) for name in BIN_NAMES),
            ]
        )
    return headers, body


def render_markdown(metrics: list[RunMetrics], command: str) -> str:
    first = metrics[0]
    headers, body = table_rows(metrics)
    explanation = (
        "Dice: pooled max-Dice ×100 per lesion-size bin (oracle threshold τ ∈ {0, 0.01, …, 1} chosen "
        "on these cases, bins scaled to the image size); AUPRC: pooled pixel-level average precision ×100. "
        "τ s/m/l/all: the thresholds attaining each maximum. NFE/img and s/img: medians over cases."
    )
    return board(f"Leaderboard: {first.dataset} (split `{first.split}`)", explanation, headers, body, metrics, command)


def board(
    title: str, explanation: str, headers: list[str], body: list[list[str]], metrics: list[RunMetrics], command: str
) -> str:
    lines = [
        f"# {title}",
        "",
        f"Generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} by `{command}`, "
        "from the per-case rows and stored maps of the runs below.",
        "",
        explanation,
        "",
        tabulate(body, headers=headers, tablefmt="github", disable_numparse=True),
        "",
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


def render_table1(metrics: list[RunMetrics], command: str) -> str:
    """The THOR paper's Table 1 layout: each reproduced row followed by the paper's reported row."""
    from anobench.published import CITATION, TABLE1_DATA, table1

    reported = table1().set_index(["noise", "method"])
    headers = ["noise", "method", "source", "Dice average", *(f"Dice {name}" for name in BIN_NAMES)]
    headers += ["AUPRC", "NFE/img", "s/img"]
    body: list[list[str]] = []
    shown: set[tuple[str, str]] = set()
    for m in sorted(metrics, key=_table1_slot):
        slot = _table1_slot(m)
        dice = [_percent(m.dice[name].dice) for name in ["all", *BIN_NAMES]]
        body.append(
            [noise_family(str(m.settings.get("noise", "–"))), method_label(m), f"anobench, {m.dataset}",
             *dice, _percent(m.auprc), f"{m.nfe:g}", f"{m.seconds_per_image:.3f}"]
        )
        if slot < len(TABLE1_SLOTS) and TABLE1_SLOTS[slot] not in shown:
            shown.add(TABLE1_SLOTS[slot])
            row = reported.loc[TABLE1_SLOTS[slot]]
            values = [f"{row[column]:.2f}" for column in ("dice_average", "dice_small", "dice_medium", "dice_large")]
            body.append([TABLE1_SLOTS[slot][0], TABLE1_SLOTS[slot][1], f"reported ({TABLE1_DATA})", *values, "–", "–", "–"])
    first = metrics[0]
    explanation = (
        "Dice: pooled max-Dice ×100 (oracle threshold chosen on these cases), \"average\" pooled over all "
        "lesions, then per lesion-size bin; AUPRC: pooled pixel-level average precision ×100; NFE/img and "
        f"s/img: medians over cases. Rows marked \"reported ({TABLE1_DATA})\" are the paper's published "
        f"numbers ({CITATION}, Table 1) on real data; they are not comparable in level with phantom numbers, "
        "only in ordering."
    )
    title = f"Table 1 layout: {first.dataset} (split `{first.split}`) beside the THOR paper"
    return board(title, explanation, headers, body, metrics, command)


def _layouts() -> dict[str, tuple[Callable[[Path], Any], Callable[[list[Any], str], str]]]:
    from anobench.box_leaderboard import evaluate_box_run, render_table2

    return {
        "full": (evaluate_run, render_markdown),
        "table1": (evaluate_run, render_table1),
        "table2": (evaluate_box_run, render_table2),
    }


LAYOUT_NAMES = ("full", "table1", "table2")


def compare(
    targets: list[str],
    name: str | None = None,
    out_dir: Path = Path("leaderboards"),
    command: str = "anobench compare",
    layout: str = "full",
) -> tuple[Path, list[Any]]:
    """Evaluate the runs, write `out_dir/<name>.md` in `layout` and return it with the metrics."""
    if layout not in LAYOUT_NAMES:
        raise AnobenchError(f"unknown layout {layout!r}; available: {', '.join(LAYOUT_NAMES)}")
    evaluate, render = _layouts()[layout]
    metrics = [evaluate(folder) for folder in find_runs(targets)]
    if not metrics:
        raise AnobenchError("no runs to compare")
    keys = {(m.dataset, m.split, m.data_manifest) for m in metrics}
    if len(keys) > 1:
        raise AnobenchError(
            "runs were made on different data and cannot share a leaderboard: "
            + "; ".join(f"{m.folder}: {m.dataset}/{m.split} manifest {m.data_manifest[:12]}" for m in metrics)
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name or metrics[0].dataset}.md"
    runs.write_text(path, render(metrics, command))
    return path, metrics


CONSOLE_COLUMNS = ("method", "T0", "stride", "NFE/img", *(f"Dice {n}" for n in BIN_NAMES), "Dice all", "AUPRC")


CONSOLE_TITLES = {"NFE/img": "NFE", "Dice medium": "med", "stride": "k"}


def print_table(metrics: list[RunMetrics], console: Console) -> None:
    """The leaderboard's main columns (the Markdown file has all of them), in 80 characters."""
    headers, body = table_rows(metrics)
    keep = [headers.index(column) for column in CONSOLE_COLUMNS]
    table = Table(
        title=f"{metrics[0].dataset} ({metrics[0].split}): Dice and AUPRC ×100",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for index in keep:
        title = CONSOLE_TITLES.get(headers[index], headers[index].removeprefix("Dice "))
        table.add_column(title, justify="left" if index == 0 else "right", no_wrap=True)
    for row in body:
        table.add_row(*(row[index] for index in keep))
    console.print(table)
