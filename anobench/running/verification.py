"""`anobench data verify`: is the data a run scored still the data it scored?

The data set is opened again exactly as the run opened it (name, options, folder, image size) and
its manifest — every file read with its sha256, and the settings that change what is read — is
compared with the one the run recorded (`data-manifest.json`); the files that changed, went missing
or appeared are named. A healthy split of another data set scored with the run is checked the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anobench import registry
from anobench.api import DatasetContext
from anobench.errors import AnobenchError
from anobench.hashing import sha256_json
from anobench.store import folder as store

SHOWN = 5  # file names given per kind of difference


def _names(paths: list[str]) -> str:
    shown = ", ".join(paths[:SHOWN])
    return f"{shown}, … ({len(paths) - SHOWN} more)" if len(paths) > SHOWN else shown


def manifest_differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs between two manifests, in words (empty when nothing does)."""
    before, after = recorded.get("files", {}), current.get("files", {})
    changed = sorted(path for path in before.keys() & after.keys() if before[path] != after[path])
    missing, added = sorted(before.keys() - after.keys()), sorted(after.keys() - before.keys())
    differences = [f"{len(changed)} file(s) changed: {_names(changed)}"] if changed else []
    differences += [f"{len(missing)} file(s) no longer read: {_names(missing)}"] if missing else []
    differences += [f"{len(added)} file(s) new: {_names(added)}"] if added else []
    if recorded.get("settings") != current.get("settings"):
        differences.append(f"settings {recorded.get('settings')} are now {current.get('settings')}")
    return differences


def _current_manifest(dataset: str, options: dict[str, str], root: str | None, image_size: int) -> dict[str, Any]:
    context = DatasetContext(image_size, Path(root) if root else None)
    return registry.datasets.get(dataset).open(options, context).manifest()


def _check(name: str, folder: Path, recorded: dict[str, Any], current: dict[str, Any]) -> str:
    digest = sha256_json(current)
    if digest != recorded["sha256"]:
        differences = manifest_differences(recorded, current) or ["the manifest differs"]
        raise AnobenchError(f"the {name} data of run {folder} changed since it ran: {'; '.join(differences)}")
    return digest


def verify_run_data(folder: Path) -> str:
    """The run's data manifest hash, recomputed; an error naming what changed if anything did."""
    store.check_complete(folder)
    config = store.read_json(folder / store.CONFIG)
    manifest_path = folder / store.DATA_MANIFEST
    if not manifest_path.is_file():
        raise AnobenchError(f"run {folder} has no {store.DATA_MANIFEST} (made by an older anobench); score it again")
    recorded = store.read_json(manifest_path)
    current = _current_manifest(
        config["dataset"], config.get("dataset_options", {}), config.get("data_root"), config["image_size"]
    )
    digest = _check(config["dataset"], folder, {k: v for k, v in recorded.items() if k != "healthy"}, current)
    healthy = config.get("healthy") or {}
    if "healthy" in recorded:
        current = _current_manifest(
            healthy["dataset"], healthy.get("dataset_options", {}), healthy.get("data_root"), config["image_size"]
        )
        _check(healthy["dataset"], folder, recorded["healthy"], current)
    return digest
