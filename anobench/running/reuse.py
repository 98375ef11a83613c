"""Whether a finished run folder still stands for a request, so that a command may keep it instead
of scoring again: `anobench sweep` and the benchmark scripts ask before they reuse a run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from anobench.hashing import sha256_file
from anobench.store import folder as store

if TYPE_CHECKING:
    from anobench.running.harness import RunRequest

# what a finished run must have been asked for to stand for `request` (not data_root: the same data
# may have moved)
SAME_REQUEST = (
    "method",
    "dataset",
    "split",
    "preset",
    "seed",
    "method_options",
    "dataset_options",
    "limit",
    "precision",
)


def outdated_by(request: RunRequest, folder: Path) -> str | None:
    """Why the finished run in `folder` does not stand for `request` (None if it does): another
    request, or a checkpoint file replaced since it was read (a retrained model under the same name
    would otherwise keep the old model's numbers). The data is not read again: files changed in place
    under the same folder go unnoticed. `anobench sweep` keeps a grid point only if None."""
    recorded = store.read_json(folder / store.CONFIG)
    asked = {key: getattr(request, key) for key in SAME_REQUEST}
    asked["checkpoint"] = str(request.checkpoint) if request.checkpoint else None  # as `harness.run` records it
    for key, value in asked.items():
        if recorded.get(key) != value:
            return f"it was scored with {key} {recorded.get(key)!r}, not {value!r}"
    if request.healthy_split and not recorded.get("healthy_split"):
        return "it scored no healthy split"
    return checkpoint_replaced(recorded)


def checkpoint_replaced(recorded: dict) -> str | None:
    """Why the checkpoint a run's config records is no longer the file it read (None if it is)."""
    read = recorded.get("method_settings", {}).get("checkpoint")
    if isinstance(read, dict) and {"path", "sha256"} <= read.keys():
        path = Path(read["path"])
        if not path.is_file() or sha256_file(path) != read["sha256"]:
            return f"its checkpoint {path} has been replaced or removed since"
    return None
