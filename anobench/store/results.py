"""A result set: the rows of its cases (`cases.parquet`, read whole: a row is a few numbers) and their
arrays (`arrays/`, chunked, read a chunk at a time; see `chunks`).

A run folder holds one result set, and its healthy split another (`healthy/`); a shard of a
sharded run one more. `open_results` gives the lazy view every evaluation reads; `CaseResults` is
the same set in memory, for small sets (the cases of a report's panels, tests, fabricated runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from anobench.errors import AnobenchError
from anobench.store import chunks
from anobench.store.chunk_writer import ChunkSetWriter
from anobench.store.rows import CASES, read_rows, write_rows


@dataclass
class CaseResults:
    """A result set in memory, arrays row-aligned with `rows`."""

    rows: pd.DataFrame
    maps: np.ndarray  # N×H×W float32
    masks: np.ndarray | None  # N×H×W bool
    reconstructions: np.ndarray | None  # N×H×W float16
    negative_regions: np.ndarray | None = None  # N×H×W bool
    images: np.ndarray | None = None  # N×H×W float16, the inputs as the method saw them
    brain_masks: np.ndarray | None = None  # N×H×W bool, slices of volumes

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays it holds, by their name in a result set."""
        present = {name: getattr(self, name) for name in chunks.DTYPES}
        return {name: value for name, value in present.items() if value is not None}


@dataclass(frozen=True)
class StoredResults:
    """A result set on disk: its rows, and its arrays read a chunk at a time."""

    folder: Path
    rows: pd.DataFrame
    arrays: chunks.CaseArrays

    def has(self, name: str) -> bool:
        return name in self.arrays.names

    @property
    def pixels_per_case(self) -> int:
        height, width = self.arrays.case_shape
        return height * width

    def iterate(
        self, names: Sequence[str], positions: np.ndarray | None = None
    ) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """(row positions, arrays) a chunk at a time, for every row or the sorted `positions`."""
        return chunks.iterate(self.arrays, names, positions)

    def gather(self, names: Sequence[str], positions: np.ndarray) -> dict[str, np.ndarray]:
        """The arrays of the rows at `positions`, stacked in that order."""
        return chunks.gather(self.arrays, names, positions)

    def load(self, positions: np.ndarray | None = None, names: Sequence[str] | None = None) -> CaseResults:
        """The rows at `positions` (every row when None) with their arrays (`names` of them, or all), in
        memory."""
        picked = np.arange(len(self.rows)) if positions is None else positions
        arrays = self.gather([name for name in self.arrays.names if names is None or name in names], picked)
        return CaseResults(
            rows=self.rows.iloc[picked].reset_index(drop=True),
            maps=arrays["maps"],
            masks=arrays.get("masks"),
            reconstructions=arrays.get("reconstructions"),
            negative_regions=arrays.get("negative_regions"),
            images=arrays.get("images"),
            brain_masks=arrays.get("brain_masks"),
        )

    def positions_of(self, case_ids: Sequence[str]) -> np.ndarray:
        return positions_of(self.rows, case_ids)


def open_results(folder: Path) -> StoredResults:
    """The result set in `folder` (a run, its healthy/ split, a shard); missing or damaged files are one
    clear error."""
    if not (folder / CASES).is_file():
        raise AnobenchError(f"{folder} holds no finished run ({CASES} missing)")
    rows = read_rows(folder / CASES)
    arrays = chunks.open_case_arrays(folder, len(rows))
    if "maps" not in arrays.names:
        raise AnobenchError(f"{folder} is damaged: it holds no maps for the {len(rows)} rows of {CASES}")
    return StoredResults(folder, rows, arrays)


def read_results(folder: Path) -> CaseResults:
    """The whole result set in `folder`, in memory (small sets only: every map at once)."""
    return open_results(folder).load()


def write_results(folder: Path, results: CaseResults, chunk_cases: int | None = None) -> None:
    """Write `results` as a result set into `folder` (rows, then chunked arrays of `chunk_cases` cases)."""
    _, height, width = results.maps.shape
    size = chunk_cases or chunks.chunk_cases(height, width)
    writer = ChunkSetWriter(folder / chunks.ARRAYS, (height, width))
    arrays = results.arrays()
    for first in range(0, len(results.rows), size):
        writer.add({name: value[first : first + size] for name, value in arrays.items()})
    writer.close(len(results.rows))
    write_rows(folder / CASES, results.rows)


def positions_of(rows: pd.DataFrame, case_ids: Sequence[str]) -> np.ndarray:
    """The row positions of `case_ids` (each must be among the rows'), in that order."""
    position = {case_id: row for row, case_id in enumerate(rows["case_id"])}
    missing = [case_id for case_id in case_ids if case_id not in position]
    if missing:
        raise AnobenchError(f"the run did not score case {missing[0]!r}")
    return np.array([position[case_id] for case_id in case_ids], dtype=np.int64)


def select_cases(results: CaseResults, case_ids: Sequence[str]) -> CaseResults:
    """The results of the cases `case_ids`, in that order (each must be among the set's)."""
    rows = positions_of(results.rows, case_ids)

    def take(array: np.ndarray | None) -> np.ndarray | None:
        return None if array is None else array[rows]

    return CaseResults(
        results.rows.iloc[rows].reset_index(drop=True),
        results.maps[rows],
        take(results.masks),
        take(results.reconstructions),
        take(results.negative_regions),
        take(results.images),
        take(results.brain_masks),
    )
