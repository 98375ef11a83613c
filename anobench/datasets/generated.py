"""Generated data sets (the phantoms): written to a staging folder, then published at once.

The manifest lists every file's sha256 with the generator and its settings; the folder appears
under its final name only when complete, so an interrupted generation is never read.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

from anobench.hashing import sha256_file


def ensure_generated(root: Path, generate: Callable[[Path], Any]) -> Path:
    """A generated data set's folder, generated first (`generate(root)`) if it is not complete."""
    if not (root / "manifest.json").is_file():
        root.parent.mkdir(parents=True, exist_ok=True)
        generate(root)
    return root


def staging_folder(root: Path) -> Path:
    staging = root.with_name(root.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    return staging


def publish(staging: Path, root: Path, generator: str, config: dict[str, Any]) -> Path:
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    manifest = {
        "generator": generator,
        "config": config,
        "files": {str(p.relative_to(staging)): sha256_file(p) for p in files},
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=1))
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    return root
