"""Chunked case arrays: the anomaly maps (and masks, inputs, reconstructions, negative regions) of a
result set, written a chunk of consecutive cases at a time as scoring finishes them, and read back
one chunk at a time, so that neither a run nor a board holds more than a chunk of pixels.

    arrays/index.json        the number of cases; per array its dtype, per-case shape and storage; per
                             chunk its first case, its number of cases and, per file, bytes and CRC-32
    arrays/<array>/<n>.npy   chunk n of an array: a NumPy .npy file of c × H × W (booleans packed
                             eight to a byte along the last axis)

Every chunk file is checked against the index before its data is read: the .npy header must declare
the dtype and shape the index does (a header declaring anything else, an enormous shape included,
is refused before memory is allocated for it), the file must have the size the index records, and
its CRC-32 must match — so a file zero-filled at its right size by a power loss is named, never
read as maps. `open_case_arrays` also reads result sets written before chunks existed (one
`maps.npz`), as a single chunk. Why .npy files and not zarr or HDF5: docs/decisions.md.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Protocol, Sequence

import numpy as np

from anobench.errors import AnobenchError
from anobench.store.rows import damaged

ARRAYS = "arrays"  # the folder of a result set's chunks
INDEX = "index.json"
LEGACY = "maps.npz"  # one archive of every array: result sets written before chunks
FORMAT = "anobench-chunked-arrays"
VERSION = 1
# the arrays a result set may hold, with the dtype each is kept in
DTYPES: dict[str, np.dtype[Any]] = {
    "maps": np.dtype(np.float32),
    "masks": np.dtype(bool),
    "images": np.dtype(np.float16),
    "reconstructions": np.dtype(np.float16),
    "negative_regions": np.dtype(bool),
    "brain_masks": np.dtype(bool),
}
CHUNK_BYTES = 32 * 2**20  # a chunk holds about this many bytes of maps: the memory a reader needs per array
LARGEST_SIDE = 1 << 16  # a per-case shape beyond this on either side is not a map anobench wrote


def chunk_cases(height: int, width: int, multiple: int = 1) -> int:
    """Cases per chunk for maps of H × W: about `CHUNK_BYTES` of maps, a multiple of `multiple` (a
    batch size, so that a chunk is made of whole batches)."""
    per_case = height * width * DTYPES["maps"].itemsize
    batches = max(1, CHUNK_BYTES // (per_case * multiple))
    return int(batches * multiple)


def _packed(name: str) -> bool:
    return DTYPES[name] == np.dtype(bool)


def stored_shape(name: str, case_shape: Sequence[int]) -> tuple[int, ...]:
    height, width = case_shape
    return (height, (width + 7) // 8) if _packed(name) else (height, width)


def stored_dtype(name: str) -> np.dtype[Any]:
    return np.dtype(np.uint8) if _packed(name) else DTYPES[name]


def _header(handle: Any) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """The shape and dtype an open .npy file declares (its header only: nothing else is read)."""
    version = np.lib.format.read_magic(handle)
    read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if read is None:
        raise ValueError(f".npy version {version} is not one anobench writes")
    shape, fortran_order, dtype = read(handle)
    if fortran_order:
        raise ValueError("Fortran-ordered array")
    return tuple(shape), dtype


def chunk_path(folder: Path, name: str, number: int) -> Path:
    return folder / name / f"{number:06d}.npy"


@dataclass(frozen=True)
class Chunk:
    """Chunk `number`: cases first … first + cases − 1 of the result set."""

    number: int
    first: int
    cases: int
    files: Mapping[str, Mapping[str, int]]  # array name → bytes, crc32

    @property
    def stop(self) -> int:
        return self.first + self.cases


def write_index(folder: Path, cases: int, case_shape: Sequence[int], chunks: Sequence[Chunk]) -> None:
    """Write the index of the chunks under `folder`: only the arrays every chunk holds (a case array
    some cases lack — a mask, a reconstruction — is kept for none); files of the others are removed."""
    names = [name for name in DTYPES if all(name in chunk.files for chunk in chunks)] if chunks else ["maps"]
    for chunk in chunks:
        for name in set(chunk.files) - set(names):
            chunk_path(folder, name, chunk.number).unlink(missing_ok=True)
    index = {
        "format": FORMAT,
        "version": VERSION,
        "cases": cases,
        "arrays": {
            name: {"dtype": DTYPES[name].name, "shape": list(case_shape), "packed": _packed(name)} for name in names
        },
        "chunks": [
            {"first": c.first, "cases": c.cases, "files": {name: dict(c.files[name]) for name in names}} for c in chunks
        ],
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / INDEX).write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")


class CaseArrays(Protocol):
    """The case arrays of a result set, a chunk at a time (chunked, or a legacy `maps.npz`)."""

    @property
    def names(self) -> tuple[str, ...]: ...

    @property
    def case_shape(self) -> tuple[int, int]: ...

    @property
    def chunks(self) -> tuple[Chunk, ...]: ...

    def read(self, chunk: Chunk, names: Sequence[str]) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class ChunkedArrays:
    """A result set's `arrays/` folder, its index checked on opening (`open_case_arrays`)."""

    folder: Path
    case_shape: tuple[int, int]
    names: tuple[str, ...]
    chunks: tuple[Chunk, ...]

    @classmethod
    def open(cls, folder: Path, cases: int) -> "ChunkedArrays":
        """The arrays of `cases` cases; an index that does not describe them is one clear error."""
        path = folder / INDEX
        try:
            index = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise damaged(path, "missing") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise damaged(path, f"not JSON: {error}") from None
        if not isinstance(index, dict) or index.get("format") != FORMAT:
            raise damaged(path, f"not an index of {FORMAT}")
        if index.get("version") != VERSION:
            raise AnobenchError(
                f"{path} is of chunk format version {index.get('version')}, this anobench reads version {VERSION}: "
                "evaluate it with the anobench that wrote it, or score the run again"
            )
        try:
            return cls._checked(folder, index, cases)
        except (KeyError, TypeError, ValueError) as error:
            raise damaged(path, f"malformed: {error!r}") from None

    @classmethod
    def _checked(cls, folder: Path, index: dict[str, Any], cases: int) -> "ChunkedArrays":
        path = folder / INDEX
        arrays = index["arrays"]
        unknown = sorted(set(arrays) - set(DTYPES))
        if unknown:
            raise damaged(path, f"unknown array(s) {', '.join(unknown)}")
        shapes = {tuple(int(side) for side in spec["shape"]) for spec in arrays.values()}
        if len(shapes) > 1 or any(
            len(shape) != 2 or not all(0 < side <= LARGEST_SIDE for side in shape) for shape in shapes
        ):
            raise damaged(path, f"per-case shape(s) {sorted(shapes)} are not one H × W")
        for name, spec in arrays.items():
            if spec["dtype"] != DTYPES[name].name or bool(spec["packed"]) != _packed(name):
                raise damaged(path, f"{name} declared as {spec['dtype']}, anobench keeps it as {DTYPES[name].name}")
        if int(index["cases"]) != cases:
            raise damaged(path, f"it holds {index['cases']} cases, the rows list {cases}")
        chunks, first = [], 0
        for number, entry in enumerate(index["chunks"]):
            if int(entry["first"]) != first or int(entry["cases"]) < 1 or set(entry["files"]) != set(arrays):
                raise damaged(path, f"chunk {number} does not follow chunk {number - 1} or lacks arrays")
            chunks.append(Chunk(number, first, int(entry["cases"]), entry["files"]))
            first += int(entry["cases"])
        if first != cases:
            raise damaged(path, f"its chunks hold {first} cases, the rows list {cases}")
        shape = next(iter(shapes)) if shapes else (0, 0)
        return cls(folder, (shape[0], shape[1]), tuple(name for name in DTYPES if name in arrays), tuple(chunks))

    def read(self, chunk: Chunk, names: Sequence[str]) -> dict[str, np.ndarray]:
        """The arrays `names` of `chunk`, each checked (header, size, CRC-32) before it is used."""
        return {name: self._read_one(chunk, name) for name in names}

    def _read_one(self, chunk: Chunk, name: str) -> np.ndarray:
        if name not in self.names:
            raise AnobenchError(f"the run in {self.folder.parent} kept no {name}")
        path = chunk_path(self.folder, name, chunk.number)
        expected = chunk.files[name]
        shape = (chunk.cases, *stored_shape(name, self.case_shape))
        dtype = stored_dtype(name)
        try:
            with open(path, "rb") as handle:
                declared_shape, declared_dtype = _header(handle)
                if tuple(declared_shape) != shape or declared_dtype != dtype:
                    held, declared = f"{declared_dtype} {list(declared_shape)}", f"{dtype} {list(shape)}"
                    raise damaged(path, f"it holds {held}, the index declares {declared}")
                header = handle.tell()
                size = header + int(np.prod(shape)) * dtype.itemsize
                if size != int(expected["bytes"]) or path.stat().st_size != size:
                    raise damaged(path, f"{path.stat().st_size} bytes, the run wrote {expected['bytes']}")
                handle.seek(0)
                content = handle.read(size)
        except FileNotFoundError:
            raise damaged(path, "missing") from None
        except ValueError as error:  # not a .npy file: no magic string, a header that does not parse
            raise damaged(path, str(error).splitlines()[0]) from None
        if zlib.crc32(content) != int(expected["crc32"]):
            raise damaged(path, "its checksum differs from the one recorded: the content is not what the run wrote")
        array = np.frombuffer(content, dtype=dtype, offset=header).reshape(shape)
        if _packed(name):
            return np.unpackbits(array, axis=-1, count=self.case_shape[1]).view(bool)
        return array


@dataclass(frozen=True)
class LegacyArrays:
    """A result set written before chunks: every array in one `maps.npz`, read whole as one chunk."""

    path: Path
    case_shape: tuple[int, int]
    names: tuple[str, ...]
    chunks: tuple[Chunk, ...]

    @classmethod
    def open(cls, path: Path, cases: int) -> "LegacyArrays":
        try:
            with np.load(path) as archive:
                names = tuple(name for name in DTYPES if name in archive.files)
                shape: tuple[int, ...] = ()
                if "maps" in names:  # the maps' header only: the data is read when a pass asks for it
                    with archive.zip.open("maps.npy") as member:
                        shape = _header(member)[0]
        except Exception as error:  # zipfile, zlib, pickle refusal: every reason the file cannot be read
            raise damaged(path, str(error).splitlines()[0] if str(error) else type(error).__name__) from None
        if len(shape) != 3 or shape[0] != cases:
            raise AnobenchError(f"{path} is damaged: it holds no maps for the {cases} rows of its run")
        return cls(path, (shape[1], shape[2]), names, (Chunk(0, 0, cases, {}),))

    def read(self, chunk: Chunk, names: Sequence[str]) -> dict[str, np.ndarray]:
        missing = [name for name in names if name not in self.names]
        if missing:
            raise AnobenchError(f"the run in {self.path.parent} kept no {missing[0]}")
        try:
            with np.load(self.path) as archive:
                return {name: archive[name] for name in names}
        except Exception as error:  # a member that does not decompress, a CRC the zip archive does not match
            raise damaged(self.path, str(error).splitlines()[0] if str(error) else type(error).__name__) from None


def open_case_arrays(result_folder: Path, cases: int) -> CaseArrays:
    """The case arrays of the result set in `result_folder` (a run, its healthy/ split, a shard)."""
    if (result_folder / ARRAYS).is_dir():
        return ChunkedArrays.open(result_folder / ARRAYS, cases)
    if (result_folder / LEGACY).is_file():
        return LegacyArrays.open(result_folder / LEGACY, cases)
    raise AnobenchError(f"{result_folder} holds no case arrays ({ARRAYS}/ or {LEGACY} missing)")


def iterate(
    arrays: CaseArrays, names: Sequence[str], positions: np.ndarray | None = None
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """(positions, arrays) chunk by chunk, in stored order: every case, or only those at the sorted
    `positions` (chunks holding none of them are not read)."""
    for chunk in arrays.chunks:
        if positions is None:
            yield np.arange(chunk.first, chunk.stop), arrays.read(chunk, names)
            continue
        start, stop = np.searchsorted(positions, [chunk.first, chunk.stop])
        if start == stop:
            continue
        wanted = positions[start:stop]
        read = arrays.read(chunk, names)
        yield wanted, {name: value[wanted - chunk.first] for name, value in read.items()}


def gather(arrays: CaseArrays, names: Sequence[str], positions: np.ndarray) -> dict[str, np.ndarray]:
    """The cases at `positions` (any order, repeats allowed) of each array, stacked in that order."""
    order = np.unique(positions)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for _, read in iterate(arrays, names, order):
        for name in names:
            parts[name].append(read[name])
    height, width = arrays.case_shape
    stacked = {
        name: np.concatenate(parts[name]) if parts[name] else np.zeros((0, height, width), DTYPES[name])
        for name in names
    }
    where = np.searchsorted(order, positions)
    return {name: value[where] for name, value in stacked.items()}
