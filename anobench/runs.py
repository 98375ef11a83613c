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
    result-set.json    written last: every file above with its size and sha256

The files appear as one unit: a run writes them into `.staging-*/` and `publish` moves them in and
writes `result-set.json` last, so a folder counts as finished only with it, and a run that fails
(a full disk, a plugin's exception, ^C) leaves the earlier results, or none, never a mixture. A
folder without `result-set.json` never blocks a rerun; a damaged one is named, never half-read.

A sharded run (rank r of w) writes `shards/rank{r}-of-{w}.*` instead (its `.json`, the provenance,
last); `merge_shards` publishes the joined set once every rank has finished.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from anobench.atomic import atomic_write
from anobench.errors import AnobenchError
from anobench.hashing import sha256_file

CASES = "cases.parquet"
MAPS = "maps.npz"
BOXES = "boxes.parquet"
HEALTHY = "healthy"
BOX_COLUMNS = ["index", "case_id", "label", "top", "left", "bottom", "right"]
CONFIG = "config.json"
PROVENANCE = "provenance.json"
DATA_MANIFEST = "data-manifest.json"
SHARDS = "shards"
RESULT_SET = "result-set.json"
STAGING = ".staging"
RUN_TRACES = (RESULT_SET, CASES, CONFIG, "journal")  # what makes a folder a run's, finished or not
# the per-case columns every reader relies on
ROW_COLUMNS = [
    "index",
    "case_id",
    "subject_id",
    "lesion_pixels",
    "size_bin",
    "score",
    "nfe",
    "seconds",
    "batch_size",
    "batch",
]
REQUIRED_COLUMNS = [
    column for column in ROW_COLUMNS if column != "batch"
]  # runs made before the warm-up timing lack batch


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda p: p.write_text(text))


def write_json(path: Path, value: Any) -> None:
    atomic_write(path, lambda p: p.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n"))


def refuse_finished(path: Path, overwrite: bool, finished_marker: Path) -> None:
    """Refuse to score into finished results (a run whose completion `finished_marker` records, or the
    merged set) unless `overwrite`, which replaces them only once the new set is complete. Writes nothing.

    The merged results count as results of every shard: a finished run is not silently extended.
    """
    if (finished_marker.is_file() or is_complete(path)) and not overwrite:
        raise AnobenchError(f"run folder {path} already holds results; pass --overwrite or choose another --out")


def prepare_folder(path: Path, overwrite: bool, finished_marker: Path) -> None:
    """Create the run folder once its writer holds the lock (`refuse_finished` checked again there)."""
    refuse_finished(path, overwrite, finished_marker)
    try:
        path.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=path, prefix=".write-test")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise AnobenchError(f"cannot write to output folder {path}: {error.strerror or error}") from None


def is_complete(folder: Path) -> bool:
    """Whether `folder` holds a published result set (see the module's documentation)."""
    return (folder / RESULT_SET).is_file()


def check_complete(folder: Path) -> None:
    """Raise a one-line error unless `folder` holds a complete, undamaged result set (sizes are checked;
    `result_set_damage` also checks the sha256)."""
    if not folder.is_dir():
        raise AnobenchError(f"{folder} does not exist")
    if not is_complete(folder):
        raise AnobenchError(
            f"{folder} holds no finished run (no {RESULT_SET}): run its command again to finish it (an interrupted "
            "run resumes), or with --overwrite to start afresh"
        )
    listed = read_json(folder / RESULT_SET).get("files", {})
    for name, entry in listed.items():
        path = folder / name
        if not path.is_file():
            raise AnobenchError(f"run {folder} is damaged: {name} is missing")
        if path.stat().st_size != entry["bytes"]:
            raise AnobenchError(
                f"run {folder} is damaged: {name} has {path.stat().st_size} bytes, the run wrote {entry['bytes']}"
            )


def result_set_damage(folder: Path) -> list[str]:
    """The files of a published set whose content is not what the run wrote (sha256), by name."""
    listed = read_json(folder / RESULT_SET).get("files", {})
    return [
        name
        for name, entry in listed.items()
        if not (folder / name).is_file() or sha256_file(folder / name) != entry["sha256"]
    ]


def staging(folder: Path) -> Path:
    """A new, empty folder inside `folder` where one writer puts a result set before `publish` (each
    writer its own: two ranks merging the same shards at once never touch each other's files)."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=folder, prefix=f"{STAGING}-"))


def remove_stale_staging(folder: Path) -> None:
    """Drop what writers killed before `publish` left aside (call only as the folder's one writer)."""
    for stale in folder.glob(f"{STAGING}-*"):
        shutil.rmtree(stale, ignore_errors=True)


def publish(folder: Path, staged: Path) -> None:
    """Move the complete result set in `staged` into `folder`, replacing the results there, and write
    `result-set.json` last. The old marker goes first, so a crash part-way leaves an unfinished folder
    (which a rerun completes), never a finished-looking mixture."""
    files = sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file())
    listing = {name: {"bytes": (staged / name).stat().st_size, "sha256": sha256_file(staged / name)} for name in files}
    (folder / RESULT_SET).unlink(missing_ok=True)
    for stale in _result_files(folder):
        if stale.relative_to(folder).as_posix() not in listing:
            stale.unlink()
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged / name, folder / name)
    write_json(folder / RESULT_SET, {"format": 1, "files": listing})
    shutil.rmtree(staged, ignore_errors=True)


def seal(folder: Path) -> None:
    """Write `result-set.json` over the result files already in `folder` (fabricated or edited runs)."""
    listing = {
        p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
        for p in _result_files(folder)
    }
    write_json(folder / RESULT_SET, {"format": 1, "files": listing})


def _result_files(folder: Path) -> list[Path]:
    names = (CONFIG, PROVENANCE, DATA_MANIFEST, CASES, MAPS, BOXES, f"{HEALTHY}/{CASES}", f"{HEALTHY}/{MAPS}")
    return [folder / name for name in names if (folder / name).is_file()]


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
    return _read_rows(folder / BOXES, BOX_COLUMNS)


def shard_files(folder: Path, rank: int, world_size: int) -> tuple[Path, Path, Path]:
    """One rank's results: (rows, arrays, provenance); the provenance is written last."""
    stem = folder / SHARDS / f"rank{rank}-of-{world_size}"
    return stem.with_suffix(".parquet"), stem.with_suffix(".npz"), stem.with_suffix(".json")


def shard_boxes(folder: Path, rank: int, world_size: int) -> Path:
    return folder / SHARDS / f"rank{rank}-of-{world_size}.boxes.parquet"


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
    atomic_write(arrays_path, lambda p: np.savez_compressed(p, **arrays))  # type: ignore[arg-type]  # numpy's stub: **arrays could be allow_pickle


def read_results(rows_path: Path, arrays_path: Path) -> CaseResults:
    """The rows and arrays of a result set; a missing, damaged or foreign file is one clear error."""
    if not rows_path.is_file() or not arrays_path.is_file():
        raise AnobenchError(
            f"{rows_path.parent} holds no finished run ({rows_path.name} or {arrays_path.name} missing)"
        )
    rows = _read_rows(rows_path)
    try:
        with np.load(arrays_path) as arrays:
            stored = {key: arrays[key] for key in arrays.files}
    except Exception as error:  # zipfile, zlib, pickle refusal: every reason the file cannot be read
        raise _damaged(arrays_path, error) from None
    if "maps" not in stored or len(stored["maps"]) != len(rows):
        raise AnobenchError(f"{arrays_path} is damaged: it holds no maps for the {len(rows)} rows of {rows_path.name}")
    return CaseResults(
        rows=rows,
        maps=stored["maps"],
        masks=stored.get("masks"),
        reconstructions=stored.get("reconstructions"),
        negative_regions=stored.get("negative_regions"),
        images=stored.get("images"),
    )


def _read_rows(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    try:
        rows = pd.read_parquet(path, columns=columns)
    except Exception as error:  # pyarrow's errors share no base class with a useful message
        raise _damaged(path, error) from None
    missing = [column for column in (columns or REQUIRED_COLUMNS) if column not in rows.columns]
    if missing:
        raise AnobenchError(f"{path} lacks the column(s) {', '.join(missing)}: not written by anobench, or damaged")
    return rows


def _damaged(path: Path, error: Exception) -> AnobenchError:
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return AnobenchError(
        f"cannot read {path}: the file is damaged ({reason}); run the run's command again with "
        "--overwrite to score it afresh"
    )


def case_ids_of(folder: Path) -> list[str]:
    """The case ids a finished run scored, in its order (reads one column)."""
    check_complete(folder)
    return _read_rows(folder / CASES, ["case_id"])["case_id"].tolist()


def select_cases(results: CaseResults, case_ids: Sequence[str]) -> CaseResults:
    """The results of the cases `case_ids`, in that order (each must be among the run's)."""
    position = {case_id: row for row, case_id in enumerate(results.rows["case_id"])}
    missing = [case_id for case_id in case_ids if case_id not in position]
    if missing:
        raise AnobenchError(f"the run did not score case {missing[0]!r}")
    rows = np.array([position[case_id] for case_id in case_ids], dtype=int)

    def take(array: np.ndarray | None) -> np.ndarray | None:
        return None if array is None else array[rows]

    return CaseResults(
        results.rows.iloc[rows].reset_index(drop=True),
        results.maps[rows],
        take(results.masks),
        take(results.reconstructions),
        take(results.negative_regions),
        take(results.images),
    )


def merge_shards(folder: Path, world_size: int | None = None) -> bool:
    """Publish the joined shards of `world_size` ranks as the run's result set once all are done; True
    if merged. Without `world_size`, the shards found must all be of one world size."""
    found = sorted((folder / SHARDS).glob("rank*-of-*.json"))
    sizes = sorted({int(path.stem.rsplit("-", 1)[1]) for path in found})
    if world_size is None:
        if not sizes:
            raise AnobenchError(f"{folder} has no finished shards to merge")
        if len(sizes) > 1:
            raise AnobenchError(
                f"{folder / SHARDS} holds shards of world sizes {', '.join(map(str, sizes))}; pass --world-size "
                "to say which run to merge (the others are stale)"
            )
        world_size = sizes[0]
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
    staged = staging(folder)
    write_results(*run_files(staged), merged)
    boxes = [
        _read_rows(path, BOX_COLUMNS)
        for rank in range(world_size)
        if (path := shard_boxes(folder, rank, world_size)).is_file()
    ]
    if boxes:
        write_boxes(staged / BOXES, pd.concat(boxes, ignore_index=True).sort_values("index", kind="stable"))
    for name in (CONFIG, DATA_MANIFEST):
        shutil.copyfile(folder / SHARDS / name, staged / name)
    provenance = [read_json(path) for _, _, path in files]
    write_json(staged / PROVENANCE, {**provenance[0], "shards": provenance})
    publish(folder, staged)
    return True


def read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise AnobenchError(f"{path} does not exist")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AnobenchError(f"{path} is not valid JSON ({error}): the file is damaged") from None
    if not isinstance(value, dict):
        raise AnobenchError(f"{path} does not hold a JSON object: the file is damaged")
    return value
