"""What every board shows of a run besides its metrics (`RunIdentity`, held by a protocol's metrics
as `run`), and the runs a board is made from: found by path, glob or data set name, evaluated on
the cases all of them scored, refused when made on different data, and merged into one row when
they differ only in their inference seed.
"""

from __future__ import annotations

import glob
import json
import os
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

import numpy as np

from anobench.errors import AnobenchError
from anobench.store import folder as store


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
    options: dict[str, Any] = field(default_factory=dict)  # the method options the run was asked for (`--set`)


class Evaluated(Protocol):
    """What a protocol's metrics of a run (`RunMetrics`, `BoxRunMetrics`) share."""

    @property
    def run(self) -> RunIdentity: ...

    @property
    def case_ids(self) -> tuple[str, ...]: ...

    @property
    def seed_values(self) -> tuple[float, ...]: ...

    @property
    def headline(self) -> float: ...


Metrics = TypeVar("Metrics", bound=Evaluated)


def merge_seeds(metrics: list[Metrics]) -> list[Metrics]:
    """One row per method setting: runs that differ only in their inference seed become the row of
    the lowest seed, carrying every seed's headline number (the spread of sampling, apart from the cases')."""
    groups: dict[tuple[Any, ...], list[Metrics]] = {}
    for m in metrics:
        key = (m.run.method, json.dumps(m.run.settings, sort_keys=True, default=str), m.case_ids)
        groups.setdefault(key, []).append(m)
    merged = []
    for group in groups.values():
        if len({m.run.seed for m in group}) < len(group):  # repeats of one seed are separate rows, not a spread
            merged.extend(group)
            continue
        group.sort(key=lambda m: m.run.seed)
        if len(group) > 1:
            merged.append(replace(group[0], seed_values=tuple(m.headline for m in group)))  # type: ignore[type-var]
        else:
            merged.append(group[0])
    return merged


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
        return (
            f"**Warning: the runs did not score the same cases.** Every row and every paired comparison uses "
            f"only the {self.cases} cases common to all runs; cases left out per run: {dropped}."
        )


def evaluate_runs(folders: list[Path], evaluate: Callable[..., Metrics]) -> tuple[list[Metrics], Coverage]:
    """Every run evaluated on the cases common to all of them (in the first run's order), with a
    warning naming the runs that scored more."""
    scored = [store.case_ids_of(folder) for folder in folders]
    others = [set(ids) for ids in scored[1:]]
    common = [case_id for case_id in scored[0] if all(case_id in ids for ids in others)]
    if not common:
        datasets = {store.read_json(folder / store.CONFIG).get("dataset") for folder in folders}
        if len(datasets) > 1:
            raise AnobenchError(
                f"the runs are of different data sets ({', '.join(sorted(map(str, datasets)))}): a board compares "
                "runs of one data set"
            )
        raise AnobenchError("the runs have no case in common: " + ", ".join(str(folder) for folder in folders))
    coverage = Coverage(len(common), {folder: len(ids) - len(common) for folder, ids in zip(folders, scored)})
    if coverage.uneven:  # the console prefixes "warning: " itself
        warnings.warn(coverage.note().replace("**", "").removeprefix("Warning: "), stacklevel=2)
    metrics = [evaluate(folder, cases=None if ids == common else tuple(common)) for folder, ids in zip(folders, scored)]
    return metrics, coverage


def _median_p90(values: Any) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return float("nan"), float("nan")
    return float(np.median(values)), float(np.percentile(values, 90))


def run_identity(folder: Path, config: dict[str, Any], provenance: dict[str, Any], rows: Any) -> RunIdentity:
    """The identity of the run in `folder` (its cost measured over `rows`)."""
    timing = provenance.get("timing", {})
    warm = rows[rows["batch"] > 0] if "batch" in rows and (rows["batch"] > 0).any() else rows
    predict_seconds = timing.get("predict_seconds", 0.0)
    return RunIdentity(
        folder=folder,
        method=config["method"],
        # how the network ran tells rows apart as much as the method's own settings do
        settings={
            **config.get("method_settings", {}),
            "precision": config.get("precision", "fp32"),
            "compile": bool(config.get("compile", False)),
        },
        dataset=config["dataset"],
        split=config["split"],
        data_manifest=provenance.get("data_manifest", ""),
        nfe=float(rows["nfe"].median()) if len(rows) else float("nan"),
        seconds_per_image=_median_p90(warm["seconds"])[0],
        latency_batch=_median_p90(warm["seconds"]),
        latency_one=_median_p90(timing.get("batch_one_seconds", [])),
        batch_size=int(rows["batch_size"].max()) if len(rows) else 0,
        images_per_second=timing.get("cases", 0) / predict_seconds if predict_seconds else float("nan"),
        peak_memory_mb=timing.get("peak_memory", {}).get("bytes", float("nan")) / 2**20,
        device=provenance.get("device_name", provenance.get("device", "")),
        seed=int(config.get("seed", 0)),
        options=dict(config.get("method_options") or {}),
    )


def find_runs(targets: list[str], runs_root: Path = Path("runs")) -> list[Path]:
    """Run folders named by path, glob, or dataset name (every finished run under runs/<name>/)."""
    found: list[Path] = []
    for target in targets:
        if any((Path(target) / name).exists() for name in store.RUN_TRACES):
            store.check_complete(Path(target))  # a run folder named outright: unfinished or damaged is an error
            found.append(Path(target))
            continue
        matches = [Path(p) for p in sorted(glob.glob(target)) if store.is_complete(Path(p))]
        if not matches and os.sep not in target and (runs_root / target).is_dir():  # a data set's name
            matches = sorted(p.parent for p in (runs_root / target).glob(f"*/{store.RESULT_SET}"))
        if not matches and Path(target).is_dir():
            inside = [p.parent for p in Path(target).glob(f"*/{store.RESULT_SET}")]
            if inside:
                glob_words = str(Path(target) / "*")
                raise AnobenchError(
                    f"{target} is not a run but holds {len(inside)} finished run folder(s); compare them with "
                    f"`anobench compare {glob_words}`"
                )
        if not matches:
            raise AnobenchError(
                f"{target!r} is neither a finished run folder, a glob of them, nor a dataset under {runs_root}/"
            )
        found.extend(matches)
    return list(dict.fromkeys(found))


def same_data(identities: list[RunIdentity]) -> None:
    """Refuse runs made on different data (data set, split or data manifest): not comparable."""
    if len({(r.dataset, r.split, r.data_manifest) for r in identities}) > 1:
        raise AnobenchError(
            "runs were made on different data and cannot share a leaderboard: "
            + "; ".join(f"{r.folder}: {r.dataset}/{r.split} manifest {r.data_manifest[:12]}" for r in identities)
        )
