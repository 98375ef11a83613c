"""Named splits of data sets (`NAME:SPLIT`) and the folders they are read from.

A run scores one split of one data set, and may score a healthy split beside it — of the same data
set, or of another (ATLAS calibrates on IXI: `--healthy-split ixi:val`). Training may combine
several (`--dataset ixi --dataset atlas:train-healthy`). Folders come from `--data-root DIR` (the
one data set) or `--data-root NAME=DIR` (any of them, by name), else `$ANOBENCH_DATA/<name>`; they
are resolved to absolute paths so that a run folder records where its data really was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from anobench import registry
from anobench.api import Case, Dataset, DatasetContext
from anobench.errors import AnobenchError
from anobench.running.contract import checked_case, plugin_call

DataRoots = Path | Mapping[str, Path] | None  # one folder (one data set) or a folder per data set name


@dataclass(frozen=True)
class SplitSource:
    dataset: str
    split: str

    def __str__(self) -> str:
        return f"{self.dataset}:{self.split}"


def parse_source(word: str, default_dataset: str | None = None, default_split: str = "train") -> SplitSource:
    """`NAME:SPLIT`, `NAME` (its `default_split`), or — with a `default_dataset` — a bare `SPLIT` of it."""
    name, colon, split = word.partition(":")
    if colon:
        if not name or not split:
            raise AnobenchError(f"{word!r} is not NAME:SPLIT")
        return SplitSource(name, split)
    if not word:
        raise AnobenchError("an empty data source was given")
    return SplitSource(default_dataset, word) if default_dataset else SplitSource(word, default_split)


def absolute(folder: Path) -> Path:
    return folder.expanduser().resolve()


PRIMARY = ""  # the key of a plain DIR among NAME=DIR values: the folder of the command's own data set


def parse_data_roots(values: Sequence[str] | None) -> DataRoots:
    """`--data-root` values: one plain folder, or NAME=DIR entries, with at most one plain folder
    among them (kept under `PRIMARY`); absolute paths either way."""
    if not values:
        return None
    if len(values) == 1 and "=" not in values[0]:
        return absolute(Path(values[0]))
    roots: dict[str, Path] = {}
    for value in values:
        name, sep, folder = value.partition("=") if "=" in value else (PRIMARY, "=", value)
        if not sep or not folder or (not name and name in roots):
            raise AnobenchError(
                f"with several --data-root values each is NAME=DIR (one may be a plain DIR), got {value!r}"
            )
        roots[name] = absolute(Path(folder))
    return roots


def roots_for(values: Sequence[str] | None, dataset: str) -> tuple[Path | None, dict[str, Path]]:
    """`--data-root` values of a run of `dataset`: its own folder (the plain DIR, or `dataset=DIR`),
    and the other data sets' by name."""
    roots = parse_data_roots(values)
    if roots is None or isinstance(roots, Path):
        return roots, {}
    if PRIMARY in roots and dataset in roots:
        raise AnobenchError(f"--data-root gives two folders for {dataset}: {roots[PRIMARY]} and {roots[dataset]}")
    own = roots.get(dataset, roots.get(PRIMARY))
    return own, {name: folder for name, folder in roots.items() if name not in (dataset, PRIMARY)}


def options_for(options: Mapping[str, str], dataset: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """`--data` settings of a run of `dataset`: its own (`KEY=V`, or `DATASET.KEY=V`) and the other
    data sets' by name (`NAME.KEY=V`: the data set of a healthy split)."""
    own: dict[str, str] = {}
    others: dict[str, dict[str, str]] = {}
    for key, value in options.items():
        name, dot, option = key.partition(".")
        if not dot:
            own[key] = value
        elif name == dataset:
            own[option] = value
        else:
            others.setdefault(name, {})[option] = value
    return own, others


def data_root_words(data_roots: DataRoots) -> list[str]:
    if data_roots is None:
        return []
    if isinstance(data_roots, Path):
        return ["--data-root", str(data_roots)]
    return [word for name, folder in sorted(data_roots.items()) for word in ("--data-root", f"{name}={folder}")]


def open_source(source: SplitSource, options: Mapping[str, str], image_size: int, data_root: Path | None) -> Dataset:
    """The data set of `source`, opened, with its split checked."""
    dataset = registry.datasets.get(source.dataset).open(options, DatasetContext(image_size, data_root))
    if source.split not in dataset.splits:
        raise AnobenchError(
            f"dataset {source.dataset!r} has no split {source.split!r}; available: {', '.join(dataset.splits)}"
        )
    return dataset


@dataclass
class OpenSplit:
    """One split of an opened data set, read a case at a time."""

    name: SplitSource
    dataset: Dataset
    options: dict[str, str]
    root: Path | None
    image_size: int

    def __str__(self) -> str:
        return str(self.name)

    def case_ids(self) -> list[str]:
        with plugin_call(f"dataset {self.name.dataset!r} failed to list split {self.name.split!r}"):
            ids = [str(case_id) for case_id in self.dataset.case_ids(self.name.split)]
        if not ids:
            raise AnobenchError(f"{self.name} has no cases")
        return ids

    def load(self, case_id: str) -> Case:
        with plugin_call(f"dataset {self.name.dataset!r} failed to load case {case_id!r} of {self.name.split!r}"):
            case = self.dataset.load_case(self.name.split, case_id)
        return checked_case(self.name.dataset, case, self.image_size)

    def describe(self) -> dict[str, Any]:
        """What the run folder records of it."""
        return {
            "dataset": self.name.dataset,
            "split": self.name.split,
            "dataset_options": self.options,
            "data_root": str(self.root) if self.root else None,
            "dataset_settings": self.dataset.settings(),
        }
