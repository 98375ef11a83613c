"""Resumable scoring and one writer per run folder.

Every finished batch is journalled in the run folder, so a run killed at any point (SIGKILL
included) and started again with the same command continues after its last finished batch and
ends with the results of an uninterrupted run (each case's noise depends only on the seed and its
id, never on the batch it was in). The journal of a split is `<folder>/journal/<name>/`: the
`request.json` the batches were scored for, and the result set's own chunks (`arrays/`, see
`anobench.store.chunks`) as they fill: each finished batch appends its arrays to the files of the
chunk being filled and is then vouched for by a line of `chunk-<n>.batches.jsonl` (its rows and
times); a complete chunk is committed by a `chunk-<n>.json` (its rows, and its files' sizes and
checksums), after which its batches' records go. Memory holds one batch, nothing is written twice,
and the published result set takes the chunks as they are. The journal is deleted once the split's
results are published. Only the same command resumes a journal (`--overwrite` too: its batches are
what it would compute); another command is refused, or with `--overwrite` discards it.

A second process started into the same folder is refused: `RunLock` holds an advisory lock on
`<folder>/.lock-<name>` for the whole run, which the operating system releases when its holder
dies, so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anobench.errors import AnobenchError
from anobench.store import chunks
from anobench.store.atomic import atomic_write
from anobench.store.chunk_writer import OpenChunk
from anobench.store.rows import BOX_COLUMNS, ROW_COLUMNS

JOURNAL = "journal"
JOURNAL_FORMAT = 2  # 2: committed chunks and the open chunk's batches; 1 (before chunks): batches only


class RunLock:
    """Exclusive, non-blocking: the second holder gets a clear error naming the first."""

    def __init__(self, folder: Path, name: str) -> None:
        self.path = folder / f".lock-{name}"

    def __enter__(self) -> "RunLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "a+")
        except OSError as error:
            raise AnobenchError(
                f"cannot write to output folder {self.path.parent}: {error.strerror or error}"
            ) from None
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._handle.seek(0)
            holder = self._handle.read().strip() or "another process"
            self._handle.close()
            raise AnobenchError(
                f"another anobench run ({holder}) is writing into {self.path.parent}; "
                "wait for it or choose another --out"
            ) from None
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(f"pid {os.getpid()}")
        self._handle.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()


@dataclass(frozen=True)
class BatchRecord:
    """A finished batch of the chunk being filled: its rows and boxes, its times, and the arrays it
    appended to the chunk's files (written after them: the batch counts once this is written)."""

    first: int
    rows: list[dict[str, Any]]
    boxes: list[dict[str, Any]]
    predict_seconds: float
    network_seconds: float
    arrays: list[str]


@dataclass(frozen=True)
class CommittedChunk:
    """A chunk of consecutive batches whose files are complete and whose rows are recorded (in its
    record, read back by `BatchJournal.rows`: memory does not keep every chunk's rows)."""

    chunk: chunks.Chunk
    predict_seconds: float
    network_seconds: float


class BatchJournal:
    """The finished work of one split's scoring, for `request` (a JSON-able description): the chunks
    already complete (`arrays/`, the result set's own chunks, each committed by a `chunk-<n>.json`
    written after its files) and the batches of the chunk being filled (appended to its files, each
    vouched for by a line of `chunk-<n>.batches.jsonl` written after its data)."""

    def __init__(self, folder: Path, name: str, request: dict[str, Any], replace_other: bool = False) -> None:
        """Resume the journal of this very `request` if there is one; a journal of another request is
        an error, or discarded with `replace_other` (--overwrite)."""
        self.folder = folder / JOURNAL / name
        recorded = self.folder / "request.json"
        wanted = json.dumps({**request, "journal_format": JOURNAL_FORMAT}, sort_keys=True, default=str)
        if recorded.is_file() and recorded.read_text() != wanted:
            if not replace_other:
                older = json.loads(recorded.read_text()).get("journal_format") != JOURNAL_FORMAT
                raise AnobenchError(
                    f"{folder} holds an interrupted run of "
                    + ("an older anobench, which this one cannot resume" if older else "another command")
                    + f" ({self.folder}); "
                    + ("" if older else "run that command again to finish it, or ")
                    + "pass --overwrite to start afresh"
                )
            self.discard()
        if not recorded.is_file():
            atomic_write(recorded, lambda p: p.write_text(wanted), durable=False)

    @property
    def arrays_folder(self) -> Path:
        """Where the chunks of the result set are written as their batches come."""
        return self.folder / chunks.ARRAYS

    def committed(self) -> list[CommittedChunk]:
        """The committed chunks, in order: 0, 1, … up to the first one whose files are not all there
        (a commit is trusted only with its files at their recorded sizes; the chunks after are scored
        again)."""
        found: list[CommittedChunk] = []
        for path in sorted(self.folder.glob("chunk-*[0-9].json")):
            record = json.loads(path.read_text())
            chunk = chunks.Chunk(record["number"], record["first"], record["cases"], record["files"])
            whole = all(
                chunks.chunk_path(self.arrays_folder, name, chunk.number).is_file()
                and chunks.chunk_path(self.arrays_folder, name, chunk.number).stat().st_size == entry["bytes"]
                for name, entry in chunk.files.items()
            )
            if chunk.number != len(found) or not whole:
                break
            found.append(CommittedChunk(chunk, record["predict_seconds"], record["network_seconds"]))
        return found

    def rows(self, committed: list[CommittedChunk]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The rows and the box rows of the committed chunks, read back from their records one at a time."""
        rows, boxes = [], []
        for c in committed:
            record = json.loads((self.folder / f"chunk-{c.chunk.number:06d}.json").read_text())
            rows.append(pd.DataFrame(record["rows"], columns=ROW_COLUMNS))
            boxes.append(pd.DataFrame(record["boxes"], columns=BOX_COLUMNS))
        empty_rows, empty_boxes = pd.DataFrame(columns=ROW_COLUMNS), pd.DataFrame(columns=BOX_COLUMNS)
        return (
            pd.concat(rows, ignore_index=True) if rows else empty_rows,
            pd.concat(boxes, ignore_index=True) if boxes and any(len(b) for b in boxes) else empty_boxes,
        )

    def _batches_of(self, number: int) -> Path:
        return self.folder / f"chunk-{number:06d}.batches.jsonl"

    def open_chunk(
        self, number: int, starts: list[int], sizes: list[int], case_shape: tuple[int, int]
    ) -> tuple[OpenChunk, list[BatchRecord]]:
        """Chunk `number` of the batches at `starts` (of `sizes` cases), resumed with the batches an
        interrupted attempt finished (their records, in order: a torn or damaged line and the lines
        after it are scored again), or started afresh."""
        path = self._batches_of(number)
        records: list[BatchRecord] = []
        kept = 0
        lines = path.read_bytes().split(b"\n") if path.is_file() else []
        for line, first in zip(lines, starts):
            try:
                record = BatchRecord(**json.loads(line))
            except (ValueError, TypeError):  # torn by a kill mid-write, or damaged: from here on, scored again
                break
            if record.first != first:
                break
            records.append(record)
            kept += len(line) + 1
        if records:
            names = sorted(set.intersection(*(set(r.arrays) for r in records)))
            appended = sum(sizes[: len(records)])
            resumed = OpenChunk.resume(self.arrays_folder, number, sum(sizes), case_shape, names, appended)
            if resumed is not None:
                with open(path, "r+b") as handle:
                    handle.truncate(kept)
                return resumed, records
        path.unlink(missing_ok=True)  # afresh: whatever an earlier attempt left of this chunk goes
        chunk = OpenChunk(self.arrays_folder, number, sum(sizes), case_shape)
        chunk.discard()
        return chunk, []

    def record(self, number: int, record: BatchRecord) -> None:
        """Vouch for one batch of chunk `number` whose arrays are appended: a line of the chunk's batch
        records (survives a kill; a line torn by one is scored again)."""
        line = json.dumps(vars(record), default=_plain) + "\n"  # vars, not asdict: no deep copy of the rows
        with open(self._batches_of(number), "a", encoding="utf-8") as handle:
            handle.write(line)

    def commit(self, number: int, first: int, chunk: OpenChunk, records: list[BatchRecord]) -> CommittedChunk:
        """Record chunk `number` as complete (after its files), then drop its batches' records."""
        closed = chunk.close()
        done = CommittedChunk(
            chunks.Chunk(number, first, closed.cases, closed.files),
            sum(r.predict_seconds for r in records),
            sum(r.network_seconds for r in records),
        )
        record = {
            "number": number,
            "first": first,
            "cases": closed.cases,
            "files": closed.files,
            "rows": [row for r in records for row in r.rows],
            "boxes": [box for r in records for box in r.boxes],
            "predict_seconds": done.predict_seconds,
            "network_seconds": done.network_seconds,
        }
        text = json.dumps(record, default=_plain)
        atomic_write(self.folder / f"chunk-{number:06d}.json", lambda p: p.write_text(text), durable=False)
        self._batches_of(number).unlink(missing_ok=True)
        return done

    def close(self, committed: list[CommittedChunk], case_shape: tuple[int, int]) -> None:
        """Write the index of the chunks: the arrays folder is then a whole result set's arrays."""
        cases = sum(c.chunk.cases for c in committed)
        chunks.write_index(self.arrays_folder, cases, case_shape, [c.chunk for c in committed])

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def remove_empty_journal(folder: Path) -> None:
    """Drop `<folder>/journal/` if nothing is left in it; only once every writer of the folder is done,
    since a shard still running may be about to write its own journal there."""
    with contextlib.suppress(OSError):  # not there, or not empty: an interrupted split's batches stay
        (folder / JOURNAL).rmdir()


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
