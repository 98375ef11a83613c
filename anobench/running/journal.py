"""Resumable scoring and one writer per run folder.

Every finished batch is journalled in the run folder, so a run killed at any point (SIGKILL
included) and started again with the same command continues after its last finished batch and
ends with the results of an uninterrupted run (each case's noise depends only on the seed and its
id, never on the batch it was in). The journal of a split is `<folder>/journal/<name>/`: the
`request.json` the batches were scored for, one `batch-<first case>.npz` per finished batch of the
chunk being filled (rows and arrays, written atomically), and the chunks already complete: their
files in `arrays/` (the result set's own chunks, see `anobench.store.chunks`) and their rows in
`chunk-<n>.json`, written after the files. Once a chunk is committed its batches are deleted, so
memory and the journal hold at most one chunk's batches beyond the chunks themselves, and the
published result set takes the chunks as they are (nothing is written twice at the end). The
journal is deleted once the split's results are published. Only the same command resumes a journal
(`--overwrite` too: its batches are what it would compute); another command is refused, or with
`--overwrite` discards it.

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

from anobench.errors import AnobenchError
from anobench.store import chunks
from anobench.store.atomic import atomic_write

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
class CommittedChunk:
    """A chunk of consecutive batches whose arrays are written and whose rows are recorded."""

    chunk: chunks.Chunk
    rows: list[dict[str, Any]]
    boxes: list[dict[str, Any]]
    predict_seconds: float
    network_seconds: float


class BatchJournal:
    """The finished work of one split's scoring, for `request` (a JSON-able description): chunks of
    consecutive batches already written as the result set's chunks (`arrays/`, each committed by a
    `chunk-<n>.json` written after its files), and the batches of the chunk being filled."""

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
        """Where the chunks of the result set are written as they complete."""
        return self.folder / chunks.ARRAYS

    def committed(self) -> list[CommittedChunk]:
        """The committed chunks, in order: 0, 1, … up to the first one whose files are not all there
        (a commit is trusted only with its files at their recorded sizes; the chunks after are scored
        again)."""
        found: list[CommittedChunk] = []
        for path in sorted(self.folder.glob("chunk-*.json")):
            record = json.loads(path.read_text())
            chunk = chunks.Chunk(record["number"], record["first"], record["cases"], record["files"])
            whole = all(
                chunks.chunk_path(self.arrays_folder, name, chunk.number).is_file()
                and chunks.chunk_path(self.arrays_folder, name, chunk.number).stat().st_size == entry["bytes"]
                for name, entry in chunk.files.items()
            )
            if chunk.number != len(found) or not whole:
                break
            found.append(
                CommittedChunk(
                    chunk, record["rows"], record["boxes"], record["predict_seconds"], record["network_seconds"]
                )
            )
        return found

    def batches(self) -> dict[int, tuple[list[dict[str, Any]], dict[str, np.ndarray]]]:
        """first case position → (rows, arrays) of every journalled batch of the chunk being filled."""
        batches = {}
        for path in sorted(self.folder.glob("batch-*.npz")):
            try:
                with np.load(path) as stored:
                    arrays = {key: stored[key] for key in stored.files if key != "rows"}
                    rows = json.loads(str(stored["rows"]))
                first = int(path.stem.split("-")[1])
            except Exception as error:  # zip, zlib, JSON, a missing key: the batch cannot be trusted
                reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise AnobenchError(
                    f"journalled batch {path} of an interrupted run is damaged ({reason}); delete that file to "
                    "score its cases again (the other batches are kept), or pass --overwrite to start afresh"
                ) from None
            batches[first] = (rows, arrays)
        return batches

    def record(self, first: int, rows: list[dict[str, Any]], arrays: dict[str, np.ndarray]) -> None:
        """Journal one finished batch (survives a kill; a power loss is caught by the batch's zip CRC)."""
        payload = {**arrays, "rows": np.array(json.dumps(rows, default=_plain))}
        atomic_write(self.folder / f"batch-{first:07d}.npz", lambda p: np.savez(p, **payload), durable=False)  # type: ignore[arg-type]  # numpy's stub: **payload could be allow_pickle

    def commit(
        self,
        number: int,
        first: int,
        arrays: dict[str, np.ndarray],
        rows: list[dict[str, Any]],
        boxes: list[dict[str, Any]],
        seconds: tuple[float, float],
        batch_firsts: list[int],
    ) -> CommittedChunk:
        """Write chunk `number` (its files, then its record), then drop the batches it was made of."""
        files = chunks.write_chunk(self.arrays_folder, number, arrays)
        chunk = chunks.Chunk(number, first, len(rows), files)
        record = {
            "number": number,
            "first": first,
            "cases": len(rows),
            "files": files,
            "rows": rows,
            "boxes": boxes,
            "predict_seconds": seconds[0],
            "network_seconds": seconds[1],
        }
        text = json.dumps(record, default=_plain)
        atomic_write(self.folder / f"chunk-{number:06d}.json", lambda p: p.write_text(text), durable=False)
        for batch in batch_firsts:
            (self.folder / f"batch-{batch:07d}.npz").unlink(missing_ok=True)
        return CommittedChunk(chunk, rows, boxes, seconds[0], seconds[1])

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
