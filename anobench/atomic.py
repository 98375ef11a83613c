"""Atomic file writes: a temporary file beside the target, then a rename.

A writer killed half-way leaves the old file (or none), never a truncated one; a full disk is one
clear error, with the temporary file removed and the old file untouched.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path
from typing import Callable

from anobench.errors import AnobenchError


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call `write(temporary_path)`, then move the result onto `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}{path.suffix}"
    # created like any file (mode 0666 less the umask, which the OS applies): no process-wide umask change
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(temporary)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        if error.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(error):  # pyarrow drops errno
            raise AnobenchError(
                f"no space left on the disk of {path.parent} while writing {path.name}; {path.name} was left as it was"
            ) from None
        raise
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
