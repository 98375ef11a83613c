"""A board's numbers as data (`anobench compare --format csv,json`): every estimate of every row with
its interval, the thresholds, counts and cost, and (JSON) the paired comparisons.

The records are read off the protocol's metrics, whatever the layout: every `Estimate` becomes
value, low and high; plain numbers and strings are kept; per-case and per-resample arrays, curves
and per-subject tables are left out (they are the run folder's data, not the board's). Values are
fractions, as computed (the Markdown board shows Dice, AUPRC, recall and F1 ×100). A NaN (nothing to
measure) is an empty CSV cell and a JSON null.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from anobench.evaluation.bootstrap import Estimate
from anobench.evaluation.cells import distinct_labels
from anobench.evaluation.comparisons import PairComparison
from anobench.evaluation.identity import Coverage, RunIdentity
from anobench.evaluation.pixel_metrics import MaxDice

FORMATS = ("md", "csv", "json")
NOT_BOARD_DATA = {
    *("run", "case_ids", "subject_ids", "resampled", "samples", "pr_curve", "froc_curve"),
    *("case_dice", "case_f1", "case_counts"),
}
REPEATED = {("calibrated", "dice")}  # the same estimate under its board name ("dice calibrated")
FLATTENED = {
    "intervals",
    "variants",
    "class_intervals",
}  # fields whose keys name the metrics themselves (raw, post-processed)
SCALE_NOTE = "fractions as computed: the Markdown board shows Dice, AUPRC, AP, recall and F1 ×100"


def parse_formats(text: str) -> list[str]:
    """`md,csv` → ["md", "csv"]; an unknown name is a ValueError naming the known ones."""
    wanted = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in FORMATS]
    if unknown or not wanted:
        raise ValueError(f"unknown board format(s) {', '.join(unknown) or repr(text)}; available: {', '.join(FORMATS)}")
    return list(dict.fromkeys(wanted))


def _key(key: Any) -> str:
    if isinstance(key, tuple):
        return " ".join(_key(part) for part in key)
    return f"{key:g}" if isinstance(key, float) else str(key)


def _plain(value: Any) -> Any:
    """A number JSON and CSV can hold: NaN and infinities as None."""
    value = value.item() if isinstance(value, np.generic) else value
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _entries(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    if path in REPEATED:
        return
    if isinstance(value, MaxDice):  # its Dice is the interval's value ("dice small"): the threshold is new
        yield ("threshold", *path[1:]), _plain(value.threshold)
    elif isinstance(value, Estimate):
        yield path, {"value": _plain(value.value), "low": _plain(value.low), "high": _plain(value.high)}
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            if field.name not in NOT_BOARD_DATA:
                own = () if field.name in FLATTENED else (field.name,)
                yield from _entries(getattr(value, field.name), path + own)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _entries(item, path + (_key(key),))
    elif isinstance(value, (tuple, list)) and all(isinstance(v, (int, float, np.generic)) for v in value):
        yield path, [_plain(v) for v in value]
    elif value is None or isinstance(value, (bool, int, float, str, np.generic)):
        yield path, _plain(value)
    # arrays, data frames and curves: per case or per resample, not board numbers


def _identity(run: RunIdentity, label: str) -> dict[str, Any]:
    return {
        "label": label,
        "method": run.method,
        "run": str(run.folder),
        "dataset": run.dataset,
        "split": run.split,
        "seed": run.seed,
        "settings": {key: _plain(value) for key, value in run.settings.items() if not isinstance(value, dict)},
        "cost": {
            "nfe": _plain(run.nfe),
            "seconds_per_image": _plain(run.seconds_per_image),
            "seconds_per_image_batch_one": [_plain(v) for v in run.latency_one],
            "seconds_per_image_batch": [_plain(v) for v in run.latency_batch],
            "batch_size": run.batch_size,
            "images_per_second": _plain(run.images_per_second),
            "peak_memory_mb": _plain(run.peak_memory_mb),
            "device": run.device,
        },
    }


def board_records(metrics: Sequence[Any]) -> list[dict[str, Any]]:
    """One record per board row: the run's identity and cost, then its metrics by name."""
    labels = distinct_labels([m.run for m in metrics])
    return [
        {**_identity(m.run, label), "metrics": {" ".join(path): value for path, value in _entries(m, ())}}
        for m, label in zip(metrics, labels)
    ]


def board_json(
    metrics: Sequence[Any],
    pairs: Sequence[PairComparison],
    layout: str,
    command: str,
    coverage: Coverage | None,
) -> str:
    labels = distinct_labels([m.run for m in metrics])
    document = {
        "command": command,
        "layout": layout,
        "dataset": metrics[0].run.dataset,
        "split": metrics[0].run.split,
        "data_manifest": metrics[0].run.data_manifest,
        "common_cases": None if coverage is None else coverage.cases,
        "scale": SCALE_NOTE,
        "rows": board_records(metrics),
        "paired_comparisons": [
            {
                "a": labels[pair.first],
                "b": labels[pair.second],
                "difference": next(_entries(pair.difference, ()))[1],
                "p_bootstrap_holm": _plain(pair.p_bootstrap),
                "p_wilcoxon_holm": _plain(pair.p_wilcoxon),
                "significant": pair.significant,
            }
            for pair in pairs
        ],
    }
    return json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def board_csv(metrics: Sequence[Any]) -> str:
    """One line per row; an estimate takes three columns: NAME, NAME low, NAME high."""
    lines = []
    for record in board_records(metrics):
        flat = {key: record[key] for key in ("label", "method", "run", "dataset", "split", "seed")}
        for name, value in record["cost"].items():
            if isinstance(value, list):
                flat |= {f"{name} median": value[0], f"{name} p90": value[1]}
            else:
                flat[name] = value
        for name, value in record["metrics"].items():
            if isinstance(value, dict):
                flat |= {name: value["value"], f"{name} low": value["low"], f"{name} high": value["high"]}
            else:
                flat[name] = " ".join(map(str, value)) if isinstance(value, list) else value
        lines.append(flat)
    return pd.DataFrame(lines).to_csv(index=False, lineterminator="\n")
