"""The run folder: everything a leaderboard needs, and nothing computed from anything else.

    config.json        what was asked for, resolved (method and dataset settings, seed, split…)
    provenance.json    what it ran with (versions, commit, device, checkpoint and data hashes)
    data-manifest.json every file of the data set read for the run, with its sha256, and the
                       settings that change what is read (`anobench data verify` checks them)
    cases.parquet      one row per case (id, subject, lesion pixels, size bin, score, NFE, seconds)
    arrays/            the cases' anomaly maps, masks, the input images and reconstructions
                       (float16, for figures), and (where the data set defines them) negative
                       regions, row-aligned with cases.parquet, in chunks (`chunks`); a folder
                       written before chunks holds one maps.npz instead, and is read as it is
    boxes.parquet      one row per annotated box (row index of its case, class, pixel rectangle),
                       for localisation data sets
    healthy/           cases.parquet and arrays/ of the healthy split scored alongside
                       (`--healthy-split`), from which thresholds are calibrated
    healthy-test/      the same for held-out healthy subjects (volume data sets that declare them,
                       `--healthy-split auto`): the false positives a threshold leaves
    result-set.json    written last: every file above with its size and its sha256 (a chunk
                       file: its CRC-32, which readers check as they read it)

The files appear as one unit: a run writes them into `.staging-*/` and `publish` moves them in and
writes `result-set.json` last, so a folder counts as finished only with it, and a run that fails
(a full disk, a plugin's exception, ^C) leaves the earlier results, or none, never a mixture. Each
file is flushed to the disk before it is renamed into place, the folders after, and the marker is
written (and flushed) only once everything it lists is durable: a power loss cannot leave a marker
that promises files the disk does not hold. A folder without `result-set.json` never blocks a
rerun; a damaged one is named, never half-read. A sharded run keeps each rank's result set under
`shards/` until they are joined (`shards`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zlib
from pathlib import Path
from typing import Any

from anobench.errors import AnobenchError
from anobench.hashing import sha256_file
from anobench.store import chunks
from anobench.store.atomic import atomic_write, flush_to_disk
from anobench.store.rows import BOXES, CASES, read_rows

CONFIG = "config.json"
PROVENANCE = "provenance.json"
DATA_MANIFEST = "data-manifest.json"
SHARDS = "shards"
RESULT_SET = "result-set.json"
RESULT_SET_FORMAT = 2  # 2: chunked arrays (a chunk file listed with its CRC-32); 1: maps.npz
HEALTHY = "healthy"  # the healthy split scored with a run: a result set of its own
HEALTHY_TEST = "healthy-test"  # held-out healthy subjects scored with a run of volumes, likewise
STAGING = ".staging"
RUN_TRACES = (RESULT_SET, CASES, CONFIG, "journal")  # what makes a folder a run's, finished or not
RESULT_FILES = (CONFIG, PROVENANCE, DATA_MANIFEST, CASES, chunks.LEGACY, BOXES)  # besides the arrays/ folders


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda p: p.write_text(text))


def write_json(path: Path, value: Any, durable: bool = True) -> None:
    atomic_write(path, lambda p: p.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n"), durable)


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


def listed_files(folder: Path) -> dict[str, dict[str, Any]]:
    """The files the result set of `folder` lists, with their size and checksum; a marker of a newer
    anobench is one clear error."""
    marker = read_json(folder / RESULT_SET)
    if int(marker.get("format", 1)) > RESULT_SET_FORMAT:
        raise AnobenchError(
            f"{folder / RESULT_SET} was written by a newer anobench (result set format {marker['format']}, this one "
            f"reads up to {RESULT_SET_FORMAT}): evaluate the run with that anobench, or upgrade"
        )
    files = marker.get("files", {})
    if not isinstance(files, dict):
        raise AnobenchError(f"{folder / RESULT_SET} does not list the run's files: the file is damaged")
    return files


def check_complete(folder: Path) -> None:
    """Raise a one-line error unless `folder` holds a complete result set whose files have the sizes it
    lists (`result_set_damage` also reads their checksums; the chunk files are checked as they are read)."""
    if not folder.is_dir():
        raise AnobenchError(f"{folder} does not exist")
    if not is_complete(folder):
        raise AnobenchError(
            f"{folder} holds no finished run (no {RESULT_SET}): run its command again to finish it (an interrupted "
            "run resumes), or with --overwrite to start afresh"
        )
    for name, entry in listed_files(folder).items():
        path = folder / name
        if not path.is_file():
            raise AnobenchError(f"run {folder} is damaged: {name} is missing")
        if path.stat().st_size != entry["bytes"]:
            raise AnobenchError(
                f"run {folder} is damaged: {name} has {path.stat().st_size} bytes, the run wrote {entry['bytes']}"
            )


def case_ids_of(folder: Path) -> list[str]:
    """The case ids a finished run scored, in its order (reads one column)."""
    check_complete(folder)
    return read_rows(folder / CASES, ["case_id"])["case_id"].tolist()


def _checksum_matches(path: Path, entry: dict[str, Any]) -> bool:
    if "crc32" in entry:
        with open(path, "rb") as handle:
            crc = 0
            while block := handle.read(1 << 24):
                crc = zlib.crc32(block, crc)
        return crc == entry["crc32"]
    return sha256_file(path) == entry["sha256"]


def result_set_damage(folder: Path) -> list[str]:
    """The files of a published set whose content is not what the run wrote (checksum), by name."""
    return [
        name
        for name, entry in listed_files(folder).items()
        if not (folder / name).is_file() or not _checksum_matches(folder / name, entry)
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


def _chunk_entries(folder: Path) -> dict[str, dict[str, int]]:
    """Size and CRC-32 of every chunk file under `folder`, relative to it, from the indexes there."""
    entries = {}
    for index in folder.rglob(f"{chunks.ARRAYS}/{chunks.INDEX}"):
        listing = json.loads(index.read_text())
        base = index.parent.relative_to(folder)
        for number, chunk in enumerate(listing["chunks"]):
            for name, entry in chunk["files"].items():
                entries[(base / name / f"{number:06d}.npy").as_posix()] = {
                    "bytes": entry["bytes"],
                    "crc32": entry["crc32"],
                }
    return entries


def _listing(folder: Path, paths: list[Path]) -> dict[str, dict[str, Any]]:
    """The files `paths` under `folder` with their size and checksum (a chunk's CRC-32 as its index
    records it), by name relative to `folder`."""
    chunk_files = _chunk_entries(folder)
    names = sorted(path.relative_to(folder).as_posix() for path in paths)
    return {
        name: chunk_files.get(name) or {"bytes": (folder / name).stat().st_size, "sha256": sha256_file(folder / name)}
        for name in names
    }


def _result_files(folder: Path) -> list[Path]:
    """The files of a result set in `folder` (the run's and its healthy split's), published or stale."""
    found = []
    for base in (folder, folder / HEALTHY, folder / HEALTHY_TEST):
        found += [base / name for name in RESULT_FILES if (base / name).is_file()]
        found += sorted(p for p in (base / chunks.ARRAYS).rglob("*") if p.is_file())
    return found


def publish(folder: Path, staged: Path) -> None:
    """Move the complete result set in `staged` into `folder`, replacing the results there, and write
    `result-set.json` last. The old marker goes first (and its removal is flushed), so a crash part-way
    leaves an unfinished folder (which a rerun completes), never a finished-looking mixture; every file
    is flushed before its rename and every folder after, so the new marker never lists a file the disk
    may not hold."""
    listing = _listing(staged, [path for path in staged.rglob("*") if path.is_file()])
    for name in listing:
        flush_to_disk(staged / name)
    if (folder / RESULT_SET).exists():
        (folder / RESULT_SET).unlink()
        flush_to_disk(folder)
    for stale in _result_files(folder):
        if stale.relative_to(folder).as_posix() not in listing:
            stale.unlink()
    received = {folder}
    for name in listing:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged / name, target)
        received.update(p for p in target.parents if p == folder or folder in p.parents)
    for received_folder in sorted(received, key=lambda p: len(p.parts), reverse=True):
        flush_to_disk(received_folder)
    write_json(folder / RESULT_SET, {"format": RESULT_SET_FORMAT, "files": listing})
    shutil.rmtree(staged, ignore_errors=True)


def seal(folder: Path) -> None:
    """Write `result-set.json` over the result files already in `folder` (fabricated or edited runs)."""
    write_json(folder / RESULT_SET, {"format": RESULT_SET_FORMAT, "files": _listing(folder, _result_files(folder))})
