"""Writing chunks (the format: `chunks`). A chunk's files are written as its batches come, each
array's file a .npy header declaring the whole chunk followed by every batch's cases appended, with
a running CRC-32: nothing is held beyond the batch at hand, and nothing is written twice. A chunk
counts only once its record (a journal's commit, an index) lists its files' sizes and checksums, so
a kill half-way leaves an open chunk that `OpenChunk.resume` cuts back to its recorded batches.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from anobench.store.atomic import no_space_named
from anobench.store.chunks import DTYPES, Chunk, chunk_path, stored_dtype, stored_shape, write_index


def encode(name: str, array: np.ndarray) -> np.ndarray:
    """A case array as it is kept: its dtype, booleans packed eight to a byte along the last axis."""
    kept = np.asarray(array, dtype=DTYPES[name])
    return np.ascontiguousarray(np.packbits(kept, axis=-1) if DTYPES[name] == np.dtype(bool) else kept)


def _header(name: str, cases: int, case_shape: Sequence[int]) -> bytes:
    shape = (cases, *stored_shape(name, case_shape))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": np.lib.format.dtype_to_descr(stored_dtype(name)), "fortran_order": False, "shape": shape}
    )
    return header.getvalue()


@dataclass
class _File:
    path: Path
    crc32: int
    bytes: int


@dataclass
class OpenChunk:
    """Chunk `number` of `cases` cases under `folder`, filled batch by batch (`append`). The arrays it
    keeps are those of its first batch that every later batch has too (a mask or reconstruction some
    cases lack is kept for none)."""

    folder: Path
    number: int
    cases: int
    case_shape: tuple[int, int]
    written: int = 0  # cases appended
    files: dict[str, _File] = field(default_factory=dict)

    def append(self, arrays: Mapping[str, np.ndarray | None]) -> None:
        count = len(next(value for value in arrays.values() if value is not None))
        if self.written == 0:
            for name in DTYPES:
                if arrays.get(name) is not None:
                    path = chunk_path(self.folder, name, self.number)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    header = _header(name, self.cases, self.case_shape)
                    with no_space_named(path):
                        path.write_bytes(header)
                    self.files[name] = _File(path, zlib.crc32(header), len(header))
        for name in list(self.files):
            value = arrays.get(name)
            if value is None:
                self.files.pop(name).path.unlink()
                continue
            data = encode(name, value)
            with no_space_named(self.files[name].path), open(self.files[name].path, "ab") as handle:
                handle.write(data.data)
            self.files[name].crc32 = zlib.crc32(data.data, self.files[name].crc32)
            self.files[name].bytes += data.nbytes
        self.written += count

    def close(self) -> Chunk:
        """The complete chunk, with its files' sizes and checksums (for its record)."""
        if self.written != self.cases:
            raise AssertionError(f"chunk {self.number} holds {self.written} of its {self.cases} cases")
        files = {name: {"bytes": entry.bytes, "crc32": entry.crc32} for name, entry in self.files.items()}
        return Chunk(self.number, -1, self.cases, files)

    @classmethod
    def resume(
        cls, folder: Path, number: int, cases: int, case_shape: tuple[int, int], names: Sequence[str], appended: int
    ) -> OpenChunk | None:
        """The open chunk of an interrupted attempt, cut back to its first `appended` cases (those its
        records vouch for) with the arrays `names`; None when a file falls short (start it afresh)."""
        chunk = cls(folder, number, cases, case_shape, appended)
        for name in DTYPES:
            path = chunk_path(folder, name, number)
            if name not in names:
                path.unlink(missing_ok=True)
                continue
            size = len(_header(name, cases, case_shape)) + appended * encode_size(name, case_shape)
            if not path.is_file() or path.stat().st_size < size:
                return None
            with open(path, "r+b") as handle:
                handle.truncate(size)
                crc = 0
                while block := handle.read(1 << 24):
                    crc = zlib.crc32(block, crc)
            chunk.files[name] = _File(path, crc, size)
        return chunk

    def discard(self) -> None:
        for name in DTYPES:
            chunk_path(self.folder, name, self.number).unlink(missing_ok=True)


def encode_size(name: str, case_shape: Sequence[int]) -> int:
    """Bytes one case of an array takes in its file."""
    return int(np.prod(stored_shape(name, case_shape))) * stored_dtype(name).itemsize


def write_chunk(folder: Path, number: int, arrays: Mapping[str, np.ndarray]) -> dict[str, dict[str, int]]:
    """Write chunk `number` whole (c × H × W arrays); returns per array its file's bytes and CRC-32."""
    maps = arrays["maps"]
    chunk = OpenChunk(folder, number, len(maps), (maps.shape[1], maps.shape[2]))
    chunk.append(arrays)
    return {name: dict(entry) for name, entry in chunk.close().files.items()}


class ChunkSetWriter:
    """Writes consecutive whole chunks of case arrays under `folder`, then (`close`) their index."""

    def __init__(self, folder: Path, case_shape: Sequence[int]) -> None:
        self.folder, self.case_shape = folder, tuple(case_shape)
        self.chunks: list[Chunk] = []

    def add(self, arrays: Mapping[str, np.ndarray]) -> Chunk:
        number, first = len(self.chunks), self.chunks[-1].stop if self.chunks else 0
        chunk = Chunk(number, first, len(arrays["maps"]), write_chunk(self.folder, number, arrays))
        self.chunks.append(chunk)
        return chunk

    def close(self, cases: int) -> None:
        write_index(self.folder, cases, self.case_shape, self.chunks)
