"""Reader for the released THOR layout: pre-made PNG slices listed in CSV files.

Each split is a CSV with header `filename` (the wrist lists say `filenames`) and one image path
per row; an annotated split has a parallel CSV of mask PNGs (row i of one belongs to row i of the other). Paths are relative to the
data root or to one of its parent folders (the released lists start with `./data/…`). The
brain phantom is written in this layout and read back through this code, as real data is.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image

from anobench.api import Case
from anobench.atomic import atomic_write
from anobench.errors import AnobenchError
from anobench.hashing import sha256_file, sha256_json
from anobench.imaging import resize_image, resize_mask

_SUBJECT = re.compile(r"(sub-[A-Za-z0-9]+)")


@dataclass(frozen=True)
class SplitFiles:
    """The CSV listing a split's images and, for annotated splits, its parallel mask CSV."""

    images: str
    masks: str | None = None


FILENAME_COLUMNS = ("filename", "filenames")


def read_filename_csv(path: Path) -> list[str]:
    if not path.is_file():
        raise AnobenchError(f"split list {path} does not exist")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        column = next((name for name in FILENAME_COLUMNS if name in (reader.fieldnames or ())), None)
        if column is None:
            raise AnobenchError(f"split list {path} has no 'filename' column")
        return [row[column].strip() for row in reader if row[column].strip()]


def write_filename_csv(path: Path, filenames: Sequence[str]) -> None:
    def write(temporary: Path) -> None:
        with open(temporary, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["filename"])
            writer.writerows([name] for name in filenames)

    try:
        atomic_write(path, write)
    except OSError as error:
        raise AnobenchError(f"cannot write split list {path}: {error.strerror or error}") from None


def resolve_listed_path(listed: str, root: Path) -> Path:
    candidate = Path(listed)
    if candidate.is_absolute():
        options = [candidate]
    else:
        options = [folder / candidate for folder in (root, *root.parents)]
    for option in options:
        if option.is_file():
            return option
    raise AnobenchError(f"file {listed!r} listed in a split CSV does not exist under {root}")


def read_png(path: Path) -> np.ndarray:
    """A grey PNG as float32 in [0, 1] (8- or 16-bit)."""
    try:
        with Image.open(path) as image:
            array = np.asarray(image)
    except OSError as error:
        raise AnobenchError(f"cannot read image {path}: {error}") from None
    if array.ndim == 3:
        array = array[..., 0]
    scale = 65535.0 if array.dtype == np.uint16 or array.max() > 255 else 255.0
    return array.astype(np.float32) / scale


def write_png(path: Path, image: np.ndarray) -> None:
    """Write a [0, 1] float image as an 8-bit grey PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)).save(path)


def subject_of(filename: str) -> str | None:
    match = _SUBJECT.search(Path(filename).name)
    return match.group(1) if match else None


class PngSliceDataset:
    """Splits of PNG slices, resized to `image_size` on reading."""

    def __init__(
        self,
        root: Path,
        split_files: Mapping[str, SplitFiles],
        image_size: int,
        extra_settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.root = root
        self.split_files = dict(split_files)
        self.splits = tuple(self.split_files)
        self.image_size = image_size
        self._extra_settings = dict(extra_settings or {})
        self._cache: dict[str, list[Case]] = {}

    def _listed(self, split: str) -> tuple[list[Path], list[Path] | None]:
        if split not in self.split_files:
            raise AnobenchError(f"unknown split {split!r}; available: {', '.join(self.splits)}")
        files = self.split_files[split]
        images = [resolve_listed_path(p, self.root) for p in read_filename_csv(self.root / files.images)]
        if files.masks is None:
            return images, None
        masks = [resolve_listed_path(p, self.root) for p in read_filename_csv(self.root / files.masks)]
        if len(masks) != len(images):
            raise AnobenchError(
                f"{files.images} lists {len(images)} images but {files.masks} lists {len(masks)} masks"
            )
        return images, masks

    def cases(self, split: str) -> list[Case]:
        if split not in self._cache:
            images, masks = self._listed(split)
            cases = []
            for index, image_path in enumerate(images):
                image = read_png(image_path)
                mask = None
                if masks is not None:
                    raw_mask = read_png(masks[index]) > 0.5
                    if raw_mask.shape != image.shape:
                        raise AnobenchError(
                            f"mask {masks[index]} has shape {raw_mask.shape}, image {image_path} "
                            f"has {image.shape}"
                        )
                    mask = resize_mask(raw_mask, self.image_size)
                cases.append(
                    Case(
                        case_id=image_path.stem,
                        image=np.clip(resize_image(image, self.image_size), 0.0, 1.0),
                        mask=mask,
                        subject_id=subject_of(image_path.name),
                    )
                )
            self._cache[split] = cases
        return self._cache[split]

    @cached_property
    def _manifest(self) -> dict[str, Any]:
        entries: dict[str, str] = {}
        for split, files in self.split_files.items():
            for listed_csv in filter(None, (files.images, files.masks)):
                entries[listed_csv] = sha256_file(self.root / listed_csv)
            images, masks = self._listed(split)
            for path in images + (masks or []):
                entries[str(path.relative_to(self.root) if path.is_relative_to(self.root) else path)] = (
                    sha256_file(path)
                )
        return {"files": dict(sorted(entries.items()))}

    def manifest_hash(self) -> str:
        """sha256 over every split list and every file they name, with their own sha256."""
        return sha256_json(self._manifest)

    def settings(self) -> dict[str, Any]:
        return {"root": str(self.root), "image_size": self.image_size, **self._extra_settings}
