"""Where anobench keeps what it makes for the user: generated phantoms, templates, trained checkpoints.

Everything lives under one cache folder, `$ANOBENCH_CACHE`, else `$XDG_CACHE_HOME/anobench`, else
`~/.cache/anobench`; nothing is written into the user's data folders.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    configured = os.environ.get("ANOBENCH_CACHE")
    if configured:
        return Path(configured).expanduser().resolve()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser().resolve() / "anobench"


def user_checkpoints() -> Path:
    """Where `anobench run` looks for a checkpoint of a data set anobench ships none for (after the
    package's own), and where the training command it proposes writes one."""
    return cache_root() / "checkpoints"
