"""Reader for the released THOR layout: pre-made PNG slices listed in CSV files.

Each split is a CSV with header `filename` (the wrist lists say `filenames`) and one image path per
row; an annotated split has a parallel CSV of mask PNGs (row i of one belongs to row i of the
other). Paths are relative to the data root or to one of its parent folders (the released lists
start with `./data/…`). The brain phantom is written in this layout and read back through this code,
as real data is.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image

from anobench.api import Case, Evaluation
from anobench.errors import AnobenchError
from anobench.hashing import sha256_file
from anobench.imaging import resize_image, resize_mask
from anobench.store.atomic import atomic_write

_SUBJECT = re.compile(r"(sub-[A-Za-z0-9]+)")


@dataclass(frozen=True)
class SplitFiles:
    """The CSV listing a split's images and, for annotated splits, its parallel mask CSV."""

    images: str
    masks: str | None = None


FILENAME_COLUMNS = ("filename", "filenames")


def read_filename_csv(path: Path, allow_empty: bool = False) -> list[str]:
    """The listed file names; a list holding only its header is an error unless `allow_empty`."""
    if not path.is_file():
        raise AnobenchError(f"split list {path} does not exist")
    text = read_utf8(path, "split list")
    reader = csv.DictReader(text.splitlines())
    column = next((name for name in FILENAME_COLUMNS if name in (reader.fieldnames or ())), None)
    if column is None:
        raise AnobenchError(f"split list {path} has no 'filename' column")
    names = [row[column].strip() for row in reader if (row[column] or "").strip()]
    if not names and not allow_empty:
        raise AnobenchError(f"split list {path} lists no file (it holds only its header)")
    return names


def read_utf8(path: Path, what: str) -> str:
    """The text of a listing or label file; one clear error when it is not UTF-8 text."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise AnobenchError(f"{what} {path} is not UTF-8 text (byte {error.start}: {error.reason})") from None


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


@dataclass(frozen=True)
class ListedCase:
    """A case of a split list: its image file and, for annotated splits, its mask file."""

    image: Path
    mask: Path | None


class PngSliceDataset:
    """Splits of PNG slices listed in CSV files, read one case at a time and resized to `image_size`."""

    def __init__(
        self,
        root: Path,
        split_files: Mapping[str, SplitFiles],
        image_size: int,
        evaluation: Evaluation,
        extra_settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.root = root
        self.split_files = dict(split_files)
        self.splits = tuple(self.split_files)
        self.image_size = image_size
        self.evaluation = evaluation
        self._extra_settings = dict(extra_settings or {})
        self._listings: dict[str, dict[str, ListedCase]] = {}

    def listing(self, split: str) -> dict[str, ListedCase]:
        """The split's cases by id (the image file's stem), in list order; read once."""
        if split not in self.split_files:
            raise AnobenchError(f"unknown split {split!r}; available: {', '.join(self.splits)}")
        if split not in self._listings:
            files = self.split_files[split]
            images = [resolve_listed_path(p, self.root) for p in read_filename_csv(self.root / files.images)]
            masks: list[Path | None] = [None] * len(images)
            if files.masks is not None:
                masks = [resolve_listed_path(p, self.root) for p in read_filename_csv(self.root / files.masks)]
                if len(masks) != len(images):
                    raise AnobenchError(
                        f"{files.images} lists {len(images)} images but {files.masks} lists {len(masks)} masks"
                    )
            listing = {image.stem: ListedCase(image, mask) for image, mask in zip(images, masks)}
            if len(listing) < len(images):
                raise AnobenchError(f"{files.images} lists an image name twice; case ids must be unique")
            self._listings[split] = listing
        return self._listings[split]

    def case_ids(self, split: str) -> list[str]:
        return list(self.listing(split))

    def load_case(self, split: str, case_id: str) -> Case:
        listed = self.listing(split).get(case_id)
        if listed is None:
            raise AnobenchError(f"split {split!r} has no case {case_id!r}")
        image = read_png(listed.image)
        mask = None
        if listed.mask is not None:
            raw_mask = read_png(listed.mask) > 0.5
            if raw_mask.shape != image.shape:
                raise AnobenchError(
                    f"mask {listed.mask} has shape {raw_mask.shape}, image {listed.image} has {image.shape}"
                )
            mask = resize_mask(raw_mask, self.image_size)
        return Case(
            case_id=case_id,
            image=np.clip(resize_image(image, self.image_size), 0.0, 1.0),
            mask=mask,
            subject_id=subject_of(listed.image.name),
        )

    def manifest(self) -> dict[str, Any]:
        """Every split list and every file they name, with their sha256."""
        entries: dict[str, str] = {}
        for split, files in self.split_files.items():
            for listed_csv in filter(None, (files.images, files.masks)):
                entries[listed_csv] = sha256_file(self.root / listed_csv)
            for listed in self.listing(split).values():
                for path in filter(None, (listed.image, listed.mask)):
                    entries[relative_name(path, self.root)] = sha256_file(path)
        return {"files": dict(sorted(entries.items()))}

    def settings(self) -> dict[str, Any]:
        return {"root": str(self.root), "image_size": self.image_size, **self._extra_settings}


def relative_name(path: Path, root: Path) -> str:
    """How a manifest names a file: relative to the data folder when below it."""
    return str(path.relative_to(root) if path.is_relative_to(root) else path)
