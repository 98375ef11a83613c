"""Atomic, durable file writes: a temporary file beside the target, flushed to the disk, renamed onto
the target, and the folder's new entry flushed after the rename.

A writer killed half-way leaves the old file (or none), never a truncated one. The two flushes are
SQLite's rule for a file that must also survive a power loss or a kernel crash: without the first, a
renamed file can come back empty or zero-filled at its right size; without the second, the rename
itself can be lost. `durable=False` keeps only the kill guarantee, for files a later step flushes
(a result set's files are flushed when it is published) or that are only ever needed by a rerun
after a kill (the journal's batches). A full disk is one clear error, with the temporary file
removed and the old file untouched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path
from typing import Callable, Iterator

from anobench.errors import AnobenchError


def flush_to_disk(path: Path) -> None:
    """fsync a file's data, or a folder's entries (Linux flushes a folder opened for reading)."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


@contextlib.contextmanager
def no_space_named(path: Path) -> Iterator[None]:
    """Turn a full disk (or quota) while writing `path` into one clear error."""
    try:
        yield
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(error):  # pyarrow drops errno
            raise AnobenchError(
                f"no space left on the disk of {path.parent} while writing {path.name}; {path.name} was left as it was"
            ) from None
        raise


def atomic_write(path: Path, write: Callable[[Path], object], durable: bool = True) -> None:
    """Call `write(temporary_path)`, then move the result onto `path` (flushed first when `durable`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}{path.suffix}"
    # created like any file (mode 0666 less the umask, which the OS applies): no process-wide umask change
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        with no_space_named(path):
            write(temporary)
            if durable:
                flush_to_disk(temporary)
            os.replace(temporary, path)
            if durable:
                flush_to_disk(path.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def flush_tree(folder: Path) -> None:
    """fsync every file and folder under `folder`, each folder after what it holds, then `folder`."""
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        flush_to_disk(path)
    flush_to_disk(folder)
