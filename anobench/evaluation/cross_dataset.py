"""The cross-dataset board (`anobench compare RUNS… --layout cross`): does an ordering hold beyond one
lesion type?

Runs of several data sets (or of one data set with different `--data` options, such as the T2
phantom's pathologies), one per method and data set: each data set's runs are evaluated together
by its own protocol (on their common cases, refused on different data) and shown by its headline —
Dice all (oracle, pixel protocol), Dice at 1 % healthy FPR (volumes), F1 mean (boxes) — with its
interval. The consensus rank, as MOOD ranks across its tasks: within every data set the methods are
ranked by the headline (1: best; ties share the mean rank), and a method's consensus is its mean
rank over the data sets it has runs on. Its spread: in each bootstrap resample the methods are
ranked again by their resampled headlines (each data set's cases resampled as its board resamples
them) and the mean taken, giving the consensus rank's 95 % interval and the share of resamples in
which the method ranks best. Methods are matched across data sets by their board label.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table

from anobench.errors import AnobenchError
from anobench.evaluation.box_protocol import evaluate_box_run
from anobench.evaluation.cells import board, distinct_labels, with_interval
from anobench.evaluation.identity import evaluate_runs, find_runs, merge_seeds, same_data
from anobench.evaluation.layouts.volume import HEADLINE as VOLUME_HEADLINE
from anobench.evaluation.pixel_protocol import evaluate_run
from anobench.evaluation.ranking import ranks
from anobench.evaluation.volume_protocol import evaluate_volume_run
from anobench.store import folder as store

# protocol → (how a run is evaluated, the headline's key in `intervals` / `resampled`, its name)
PROTOCOLS: dict[str, tuple[Callable[..., Any], str, str]] = {
    "pixel": (evaluate_run, "dice all", "Dice all"),
    "volume": (evaluate_volume_run, VOLUME_HEADLINE, "Dice @1 % FPR"),
    "box": (evaluate_box_run, "f1 mean", "F1 mean"),
}


@dataclass(frozen=True)
class DatasetColumn:
    dataset: str
    protocol: str
    metrics: dict[str, Any]  # method label → that run's metrics

    @property
    def metric(self) -> str:
        return PROTOCOLS[self.protocol][2]


@dataclass(frozen=True)
class Consensus:
    methods: list[str]  # those with a run on every data set: the ones ranked
    mean_rank: np.ndarray  # over the data sets, from the reported headlines
    interval: np.ndarray  # methods × 2: the 95 % interval of the resampled mean rank
    first: np.ndarray  # share of resamples in which each method has the best (lowest) mean rank


def dataset_name(config: dict[str, Any]) -> str:
    """The data set a run scored, with the options that made it (`brain-phantom-t2 pathology=ms`): one
    data set's variants are columns of their own."""
    options = config.get("dataset_options") or {}
    return " ".join([str(config["dataset"]), *(f"{key}={value}" for key, value in sorted(options.items()))])


def protocol_of(folder: Path) -> str:
    evaluation = store.read_json(folder / store.CONFIG).get("evaluation") or {}
    if evaluation.get("protocol") == "box":
        return "box"
    return "volume" if evaluation.get("volumes") else "pixel"


def columns_of(targets: list[str]) -> list[DatasetColumn]:
    """The runs grouped by data set (in the order given), each group evaluated by its protocol."""
    folders = find_runs(targets)
    groups: dict[str, list[Path]] = {}
    for folder in folders:
        groups.setdefault(dataset_name(store.read_json(folder / store.CONFIG)), []).append(folder)
    if len(groups) < 2:
        raise AnobenchError("--layout cross compares runs of several data sets; these are all of one")
    evaluated = []
    for dataset, members in groups.items():
        protocol = protocol_of(members[0])
        metrics, _ = evaluate_runs(members, PROTOCOLS[protocol][0])
        same_data([m.run for m in metrics])
        evaluated.append((dataset, protocol, merge_seeds(metrics)))
    # labels told apart over every run, so that one method reads alike on every data set
    labels = iter(distinct_labels([m.run for _, _, metrics in evaluated for m in metrics], by_folder=False))
    columns = []
    for dataset, protocol, metrics in evaluated:
        by_label: dict[str, Any] = {}
        for m in metrics:
            label = next(labels)
            if label in by_label:
                raise AnobenchError(
                    f"two runs of {label} on {dataset} ({by_label[label].run.folder}, {m.run.folder}): a cross-dataset "
                    "board takes one run per method and data set"
                )
            by_label[label] = m
        columns.append(DatasetColumn(dataset, protocol, by_label))
    return columns


def consensus(columns: list[DatasetColumn]) -> Consensus:
    """The mean rank over the data sets of the methods with a run on every one (ranked among themselves)."""
    everywhere = [label for label in columns[0].metrics if all(label in c.metrics for c in columns)]
    if not everywhere:
        return Consensus([], np.empty(0), np.empty((0, 2)), np.empty(0))
    resamples = min(len(c.metrics[label].resampled[PROTOCOLS[c.protocol][1]]) for c in columns for label in everywhere)
    point_ranks, drawn_ranks = [], []
    for column in columns:
        key = PROTOCOLS[column.protocol][1]
        runs = [column.metrics[label] for label in everywhere]
        point_ranks.append(ranks(np.array([m.intervals[key].value for m in runs])))
        drawn_ranks.append(ranks(np.stack([m.resampled[key][:resamples] for m in runs], axis=1)))  # resamples × methods
    mean_rank = np.mean(point_ranks, axis=0)
    resampled = np.mean(drawn_ranks, axis=0)
    best = resampled == resampled.min(axis=1, keepdims=True)
    return Consensus(everywhere, mean_rank, np.percentile(resampled, [2.5, 97.5], axis=0).T, best.mean(axis=0))


def render_cross(columns: list[DatasetColumn], command: str) -> str:
    agreed = consensus(columns)
    headers = ["method", *(f"{c.dataset}: {c.metric} [95% CI]" for c in columns)]
    headers += ["consensus rank [95% CI]", "best in"]
    ranked = [agreed.methods[index] for index in np.argsort(agreed.mean_rank, kind="stable")]
    others = [label for c in columns for label in c.metrics if label not in agreed.methods]
    body = []
    for label in [*ranked, *dict.fromkeys(others)]:
        cells = [with_interval(c.metrics[label].intervals[PROTOCOLS[c.protocol][1]]) if label in c.metrics else "–"
                 for c in columns]  # fmt: skip
        consensus_cells = ["–", "–"]
        if label in agreed.methods:
            index = agreed.methods.index(label)
            low, high = agreed.interval[index]
            consensus_cells = [
                f"{agreed.mean_rank[index]:.2f} [{low:.2f}, {high:.2f}]",
                f"{100 * agreed.first[index]:.0f} %",
            ]
        body.append([label, *cells, *consensus_cells])
    explanation = (
        "Each data set's runs evaluated together by its own protocol, on their common cases; cells ×100 with 95 % "
        "percentile bootstrap intervals (Dice all: pooled oracle max-Dice; Dice @1 % FPR: mean per-subject Dice at the "
        "threshold leaving 1 % of healthy validation brain voxels above it; F1 mean: box F1 averaged over classes). "
        "Consensus rank (as MOOD ranks across tasks), for the methods with a run on every data set, ranked among "
        "themselves: the mean over the data sets of the method's rank within each (1: best; ties share the mean "
        "rank); its interval and 'best in' (the share of resamples in which its mean rank is the lowest, shared bests "
        "counted for each) come from ranking again in each bootstrap resample of every data set's cases. Methods "
        "missing from a data set are shown below, unranked."
    )
    manifests = "Data manifests: " + ", ".join(
        f"{c.dataset} `{next(iter(c.metrics.values())).run.data_manifest[:12]}…` ({c.protocol} protocol)"
        for c in columns
    )
    runs = [m.run for c in columns for m in c.metrics.values()]
    title = "Across data sets: " + ", ".join(c.dataset for c in columns)
    return board(title, explanation, headers, body, runs, command, manifests=manifests)


def write_cross(
    targets: list[str], name: str | None, out_dir: Path, command: str, overwrite: bool, formats: str
) -> tuple[Path, list[DatasetColumn]]:
    """`compare --layout cross`: the board written to `out_dir/<name>.md` (default `cross-<data sets>`)."""
    if formats != "md":
        raise AnobenchError("--format: the cross-dataset board is written as Markdown only (md)")
    columns = columns_of(targets)
    path = out_dir / f"{name or 'cross-' + '-'.join(c.dataset for c in columns)}.md"
    if path.exists() and not overwrite:
        raise AnobenchError(
            f"leaderboard {path} already exists; pass --overwrite to replace it or --name to write another"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    store.write_text(path, render_cross(columns, command))
    return path, columns


def print_cross(columns: list[DatasetColumn], console: Console) -> None:
    """The consensus ranking in a few columns (the Markdown file has every cell and interval)."""
    agreed = consensus(columns)
    table = Table(title="across data sets: consensus rank", box=box.SIMPLE_HEAD, pad_edge=False)
    for title in ("method", "mean rank [95% CI]", "best in"):
        table.add_column(title, justify="left" if title == "method" else "right")
    for index in np.argsort(agreed.mean_rank, kind="stable"):
        low, high = agreed.interval[index]
        table.add_row(
            agreed.methods[index],
            f"{agreed.mean_rank[index]:.2f} [{low:.2f}, {high:.2f}]",
            f"{100 * agreed.first[index]:.0f} %",
        )
    console.print(table)
