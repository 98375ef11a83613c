"""The THOR work's released wrist split lists (`data/wrist/splits/` of its repository).

Layout below the data folder (`splits/` directly, or `data/wrist/splits/` when the folder is a copy
of that repository): `train_normal.csv`, `val_normal.csv`, `test_normal.csv` (healthy images), and
per class three row-aligned lists: `<class>.csv` (the image, once per box), `<class>_ann.csv` (that
box as a mask PNG in the image's geometry) and `<class>_neg.csv` (the image's negative-region mask:
where anomaly mass counts as false positive). Header `filenames`; paths relative to the folder or
one of its parents (the lists start with `./data/wrist/…`).

Splits: `train`, `val`, `test-healthy` (the three normal lists) and `test`: every image of the six
evaluated classes once, with all its boxes (a box is its mask's bounding box, through the same
padding and resizing as the image) and its negative region. Patient id: the file stem's first field.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from anobench.api import Box, Case
from anobench.datasets.grazpedwri import EVALUATED_CLASSES, EVALUATION, SPLITS
from anobench.datasets.png_slices import read_filename_csv, read_png, relative_name, resolve_listed_path
from anobench.errors import AnobenchError
from anobench.hashing import sha256_file
from anobench.imaging import NATIVE_SIZE, box_after_preparation, prepare_for_preset, prepare_mask, resize_mask

NORMAL_LISTS = {"train": "train_normal.csv", "val": "val_normal.csv", "test-healthy": "test_normal.csv"}
SPLIT_FOLDERS = ("splits", "data/wrist/splits")


def released_splits_folder(root: Path) -> Path | None:
    """The folder of the released lists below `root`, if there is one."""
    return next((root / f for f in SPLIT_FOLDERS if (root / f / NORMAL_LISTS["train"]).is_file()), None)


def class_lists(label: str) -> tuple[str, str, str]:
    """The three row-aligned lists of a class: images, box masks, negative-region masks."""
    return f"{label}.csv", f"{label}_ann.csv", f"{label}_neg.csv"


@dataclass(frozen=True)
class AnnotatedImage:
    image: Path
    negative_mask: Path
    box_masks: tuple[tuple[Path, str], ...]  # (mask file, class)


def patient_of(stem: str) -> str:
    return stem.split("_", 1)[0]


def box_of_mask(mask_path: Path, image_shape: tuple[int, int], size: int, label: str) -> Box:
    mask = read_png(mask_path) > 0.5
    if mask.shape != image_shape:
        raise AnobenchError(f"box mask {mask_path} has shape {mask.shape}, its image {image_shape}")
    rows, columns = np.nonzero(mask)
    if rows.size == 0:
        raise AnobenchError(f"box mask {mask_path} is empty")
    edges = box_after_preparation(columns.min(), rows.min(), columns.max() + 1, rows.max() + 1, *image_shape, size)
    return Box(*edges, label)


def prepared_negative_region(mask_path: Path, image_shape: tuple[int, int], size: int) -> np.ndarray:
    mask = read_png(mask_path) > 0.5
    if mask.shape != image_shape:
        raise AnobenchError(f"negative mask {mask_path} has shape {mask.shape}, its image {image_shape}")
    return resize_mask(prepare_mask(mask, NATIVE_SIZE), size)


class ReleasedWristSplits:
    splits = SPLITS
    evaluation = EVALUATION

    def __init__(self, root: Path, lists: Path, image_size: int) -> None:
        self.root, self.lists, self.image_size = root, lists, image_size

    def _read_list(self, name: str, allow_empty: bool = False) -> list[Path]:
        listed = read_filename_csv(self.lists / name, allow_empty)
        return [resolve_listed_path(name, self.root) for name in listed]

    @cached_property
    def _annotated(self) -> dict[str, AnnotatedImage]:
        """The evaluated classes' rows grouped by image, in order of first appearance."""
        grouped: dict[str, AnnotatedImage] = {}
        for label in EVALUATED_CLASSES:
            names = class_lists(label)
            images, box_masks, negatives = (
                self._read_list(name, allow_empty=True) for name in names
            )  # a class may have none
            if not len(images) == len(box_masks) == len(negatives):
                raise AnobenchError(
                    f"{', '.join(names)} in {self.lists} are not row-aligned "
                    f"({len(images)}, {len(box_masks)} and {len(negatives)} rows)"
                )
            for image, box_mask, negative in zip(images, box_masks, negatives):
                known = grouped.get(image.stem, AnnotatedImage(image, negative, ()))
                if known.negative_mask != negative:
                    raise AnobenchError(
                        f"image {image.name} has two negative masks: {known.negative_mask} and {negative}"
                    )
                if (box_mask, label) not in known.box_masks:
                    known = AnnotatedImage(image, negative, (*known.box_masks, (box_mask, label)))
                grouped[image.stem] = known
        return grouped

    def _prepared(self, path: Path) -> tuple[np.ndarray, tuple[int, int]]:
        raw = read_png(path)
        return prepare_for_preset(raw, self.image_size), raw.shape

    @cached_property
    def _normal(self) -> dict[str, dict[str, Path]]:
        """The healthy images of each normal list by file stem (the case id)."""
        return {split: {path.stem: path for path in self._read_list(name)} for split, name in NORMAL_LISTS.items()}

    def case_ids(self, split: str) -> list[str]:
        if split not in SPLITS:
            raise AnobenchError(f"unknown split {split!r}; available: {', '.join(SPLITS)}")
        return list(self._annotated if split == "test" else self._normal[split])

    def load_case(self, split: str, case_id: str) -> Case:
        if case_id not in self.case_ids(split):
            raise AnobenchError(f"wrist split {split!r} has no case {case_id!r}")
        if split != "test":
            return Case(case_id, self._prepared(self._normal[split][case_id])[0], None, patient_of(case_id))
        annotated = self._annotated[case_id]
        image, shape = self._prepared(annotated.image)
        boxes = tuple(box_of_mask(mask, shape, self.image_size, label) for mask, label in annotated.box_masks)
        negative = prepared_negative_region(annotated.negative_mask, shape, self.image_size)
        return Case(case_id, image, None, patient_of(case_id), boxes, negative)

    def _files(self) -> list[Path]:
        lists = [*NORMAL_LISTS.values(), *(name for label in EVALUATED_CLASSES for name in class_lists(label))]
        named = {path for name in NORMAL_LISTS.values() for path in self._read_list(name)}
        for annotated in self._annotated.values():
            named |= {annotated.image, annotated.negative_mask, *(mask for mask, _ in annotated.box_masks)}
        return [self.lists / name for name in lists] + sorted(named)

    def manifest(self) -> dict[str, Any]:
        """Every list and every file they name, with their sha256."""
        files = {relative_name(path, self.root): sha256_file(path) for path in self._files()}
        return {"files": dict(sorted(files.items()))}

    def settings(self) -> dict[str, Any]:
        sizes = {split: len(self._normal[split]) for split in NORMAL_LISTS}
        sizes["test"] = len(self._annotated)
        return {
            "root": str(self.root),
            "layout": "released",
            "lists": str(self.lists),
            "image_size": self.image_size,
            "evaluated_classes": list(EVALUATED_CLASSES),
            "split_sizes": sizes,
        }
