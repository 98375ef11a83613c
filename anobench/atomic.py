"""Atomic file writes: a temporary file beside the target, then a rename.

A writer killed half-way leaves the old file (or none), never a truncated one; a full disk is one
clear error, with the temporary file removed and the old file untouched.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Callable

from anobench.errors import AnobenchError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call `write(temporary_path)`, then move the result onto `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; give results the usual mode
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        if error.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(error):  # pyarrow drops errno
            raise AnobenchError(f"no space left on the disk of {path.parent} while writing {path.name}; "
                                f"{path.name} was left as it was") from None
        raise
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
