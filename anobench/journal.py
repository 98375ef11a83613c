"""Resumable scoring and one writer per run folder.

Every finished batch is journalled in the run folder, so a run killed at any point (SIGKILL
included) and started again with the same command continues after its last finished batch and
ends with the results of an uninterrupted run (each case's noise depends only on the seed and its
id, never on the batch it was in). The journal of a split is `<folder>/journal/<name>/`: the
`request.json` the batches were scored for and one `batch-<first case>.npz` per finished batch
(rows and arrays, written atomically); it is deleted once the split's results are written. Only
the same command resumes a journal (`--overwrite` too: its batches are what it would compute);
another command is refused, or with `--overwrite` discards it.

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
from pathlib import Path
from typing import Any

import numpy as np

from anobench.atomic import atomic_write
from anobench.errors import AnobenchError

JOURNAL = "journal"


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


class BatchJournal:
    """The finished batches of one split's scoring, for `request` (a JSON-able description)."""

    def __init__(self, folder: Path, name: str, request: dict[str, Any], replace_other: bool = False) -> None:
        """Resume the journal of this very `request` if there is one; a journal of another request is
        an error, or discarded with `replace_other` (--overwrite)."""
        self.folder = folder / JOURNAL / name
        recorded = self.folder / "request.json"
        wanted = json.dumps(request, sort_keys=True, default=str)
        if recorded.is_file() and recorded.read_text() != wanted:
            if not replace_other:
                raise AnobenchError(
                    f"{folder} holds an interrupted run of another command ({self.folder}); "
                    "run that command again to finish it, or pass --overwrite to start afresh"
                )
            self.discard()
        if not recorded.is_file():
            atomic_write(recorded, lambda p: p.write_text(wanted))

    def finished(self) -> dict[int, tuple[list[dict[str, Any]], dict[str, np.ndarray]]]:
        """first case position → (rows, arrays) of every journalled batch."""
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
        payload = {**arrays, "rows": np.array(json.dumps(rows, default=_plain))}
        atomic_write(self.folder / f"batch-{first:07d}.npz", lambda p: np.savez(p, **payload))  # type: ignore[arg-type]  # as in runs

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
