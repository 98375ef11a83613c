"""The run folder: everything a leaderboard needs, and nothing computed from anything else.

    config.json        what was asked for, resolved (method and dataset settings, seed, split…)
    provenance.json    what it ran with (versions, commit, device, checkpoint and data hashes)
    data-manifest.json every file of the data set read for the run, with its sha256, and the
                       settings that change what is read (`anobench data verify` checks them)
    cases.parquet      one row per case (id, subject, lesion pixels, size bin, score, NFE, seconds)
    maps.npz           anomaly maps, masks, the input images and reconstructions (float16, for
                       figures), and (where the data set defines them) negative regions,
                       row-aligned with cases.parquet
    boxes.parquet      one row per annotated box (row index of its case, class, pixel rectangle),
                       for localisation data sets
    healthy/           cases.parquet and maps.npz of the healthy split scored alongside
                       (`--healthy-split`), from which box protocols choose their threshold

A sharded run (rank r of w) writes `shards/rank{r}-of-{w}.*` instead; `merge_shards` joins them
into the files above once every rank has finished.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from anobench.atomic import atomic_write
from anobench.errors import AnobenchError

CASES = "cases.parquet"
MAPS = "maps.npz"
BOXES = "boxes.parquet"
HEALTHY = "healthy"
BOX_COLUMNS = ["index", "case_id", "label", "top", "left", "bottom", "right"]
CONFIG = "config.json"
PROVENANCE = "provenance.json"
DATA_MANIFEST = "data-manifest.json"
SHARDS = "shards"


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda p: p.write_text(text))


def write_json(path: Path, value: Any) -> None:
    atomic_write(path, lambda p: p.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n"))


def prepare_folder(path: Path, overwrite: bool, outputs: tuple[Path, ...]) -> None:
    """Create the run folder for `outputs`; refuse to replace results unless `overwrite`.

    The merged results count as results of every shard: a finished run is not silently extended.
    """
    guarded = (*outputs, *run_files(path), path / BOXES, *healthy_files(path))
    if any(p.exists() for p in guarded):
        if not overwrite:
            raise AnobenchError(f"run folder {path} already holds results; pass --overwrite or choose another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=path, prefix=".write-test")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise AnobenchError(f"cannot write to output folder {path}: {error.strerror or error}") from None
    for stale in guarded:
        stale.unlink(missing_ok=True)


@dataclass
class CaseResults:
    rows: pd.DataFrame
    maps: np.ndarray  # N×H×W float32
    masks: np.ndarray | None  # N×H×W bool
    reconstructions: np.ndarray | None  # N×H×W float16
    negative_regions: np.ndarray | None = None  # N×H×W bool
    images: np.ndarray | None = None  # N×H×W float16, the inputs as the method saw them


def run_files(folder: Path) -> tuple[Path, Path]:
    """The merged results of a run: (rows, arrays)."""
    return folder / CASES, folder / MAPS


def healthy_files(folder: Path) -> tuple[Path, Path]:
    """The results of the healthy split scored with the run: (rows, arrays)."""
    return run_files(folder / HEALTHY)


def write_boxes(path: Path, boxes: pd.DataFrame) -> None:
    atomic_write(path, lambda p: boxes[BOX_COLUMNS].to_parquet(p, index=False))


def read_boxes(folder: Path) -> pd.DataFrame:
    if not (folder / BOXES).is_file():
        raise AnobenchError(f"run {folder} has no {BOXES}: its data set has no annotated boxes")
    return pd.read_parquet(folder / BOXES)


def shard_files(folder: Path, rank: int, world_size: int) -> tuple[Path, Path, Path]:
    """One rank's results: (rows, arrays, provenance)."""
    stem = folder / SHARDS / f"rank{rank}-of-{world_size}"
    return stem.with_suffix(".parquet"), stem.with_suffix(".npz"), stem.with_suffix(".json")


def write_results(rows_path: Path, arrays_path: Path, results: CaseResults) -> None:
    rows_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(rows_path, lambda p: results.rows.to_parquet(p, index=False))
    arrays: dict[str, np.ndarray] = {"maps": results.maps.astype(np.float32)}
    if results.masks is not None:
        arrays["masks"] = results.masks.astype(bool)
    if results.reconstructions is not None:
        arrays["reconstructions"] = results.reconstructions.astype(np.float16)
    if results.negative_regions is not None:
        arrays["negative_regions"] = results.negative_regions.astype(bool)
    if results.images is not None:
        arrays["images"] = results.images.astype(np.float16)
    atomic_write(arrays_path, lambda p: np.savez_compressed(p, **arrays))


def read_results(rows_path: Path, arrays_path: Path) -> CaseResults:
    if not rows_path.is_file() or not arrays_path.is_file():
        raise AnobenchError(
            f"{rows_path.parent} holds no finished run ({rows_path.name} or {arrays_path.name} missing)"
        )
    with np.load(arrays_path) as arrays:
        return CaseResults(
            rows=pd.read_parquet(rows_path),
            maps=arrays["maps"],
            masks=arrays["masks"] if "masks" in arrays else None,
            reconstructions=arrays["reconstructions"] if "reconstructions" in arrays else None,
            negative_regions=arrays["negative_regions"] if "negative_regions" in arrays else None,
            images=arrays["images"] if "images" in arrays else None,
        )


def case_ids_of(folder: Path) -> list[str]:
    """The case ids a finished run scored, in its order (reads one column)."""
    return pd.read_parquet(folder / CASES, columns=["case_id"])["case_id"].tolist()


def select_cases(results: CaseResults, case_ids: Sequence[str]) -> CaseResults:
    """The results of the cases `case_ids`, in that order (each must be among the run's)."""
    position = {case_id: row for row, case_id in enumerate(results.rows["case_id"])}
    missing = [case_id for case_id in case_ids if case_id not in position]
    if missing:
        raise AnobenchError(f"the run did not score case {missing[0]!r}")
    rows = np.array([position[case_id] for case_id in case_ids], dtype=int)

    def take(array: np.ndarray | None) -> np.ndarray | None:
        return None if array is None else array[rows]

    return CaseResults(results.rows.iloc[rows].reset_index(drop=True), results.maps[rows], take(results.masks),
                       take(results.reconstructions), take(results.negative_regions), take(results.images))


def merge_shards(folder: Path) -> bool:
    """Join the shards into the run's results once all ranks are done; True if merged."""
    found = sorted((folder / SHARDS).glob("rank*-of-*.parquet"))
    if not found:
        raise AnobenchError(f"{folder} has no shards to merge")
    world_size = int(found[0].stem.rsplit("-", 1)[1])
    files = [shard_files(folder, rank, world_size) for rank in range(world_size)]
    if not all(path.is_file() for triple in files for path in triple):
        return False
    parts = [read_results(rows, arrays) for rows, arrays, _ in files]
    rows = pd.concat([part.rows for part in parts], ignore_index=True)
    order = np.argsort(rows["index"].to_numpy(), kind="stable")

    def joined(field: str) -> np.ndarray | None:
        arrays = [getattr(part, field) for part in parts]
        return None if any(a is None for a in arrays) else np.concatenate(arrays)[order]

    merged = CaseResults(
        rows=rows.iloc[order].reset_index(drop=True),
        maps=np.concatenate([part.maps for part in parts])[order],
        masks=joined("masks"),
        reconstructions=joined("reconstructions"),
        negative_regions=joined("negative_regions"),
        images=joined("images"),
    )
    write_results(*run_files(folder), merged)
    provenance = [json.loads(path.read_text()) for _, _, path in files]
    write_json(folder / PROVENANCE, {**provenance[0], "shards": provenance})
    return True


def read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise AnobenchError(f"{path} does not exist")
    return json.loads(path.read_text())
