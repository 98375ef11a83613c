"""wrist: GRAZPEDWRI-DX paediatric wrist radiographs with YOLO boxes, prepared as the THOR work did.

Layout under the data folder (`--data-root`, or `$ANOBENCH_DATA/wrist`), as the release unpacks:
`dataset.csv` (columns `filestem`, `patient_id`, …), the PNG images anywhere below the folder
(`images_part1/` … `images_part4/`, or `images/`), and one YOLO label file per image
(`folder_structure/yolov5/labels/<filestem>.txt`, or `yolov5/labels/`, or `labels/`): lines
`class x_centre y_centre width height`, normalised to [0, 1], class ids in the release's order
(boneanomaly, bonelesion, foreignbody, fracture, metal, periostealreaction, pronatorsign,
softtissue, text).
Preparation (THOR): grey values to [0, 1], divided by the 98th percentile, capped at 1, padded to a
square with the minimum, resized to 128, then to the preset's size; boxes go through the same
padding and scaling (widened to whole pixels).
The THOR work's own split lists are read with `--data layout=released` (`anobench.datasets.wrist_released`);
the layout is never guessed from the files present, so one command always means one split.
Splits, by patient so no patient is on both sides: patients with a box of an evaluated class
(the six of the THOR paper's Table 2) form `test` (their abnormal images) and `test-healthy`
(their other images); the remaining patients are shuffled (seeded) into `train` / `val` /
`test-healthy` in the proportions of the released normal splits (1600 / 201 / 1039).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from anobench.api import Box, Case, Dataset, DatasetContext
from anobench.config import build_config, to_plain
from anobench.datasets.grazpedwri import CLASSES, EVALUATED_CLASSES, EVALUATION, SPLITS, WRIST, WristConfig
from anobench.datasets.location import dataset_root
from anobench.datasets.png_slices import read_png, read_utf8
from anobench.datasets.wrist_released import ReleasedWristSplits, released_splits_folder
from anobench.errors import AnobenchError
from anobench.hashing import sha256_file
from anobench.imaging import box_after_preparation, prepare_for_preset

LABEL_FOLDERS = ("folder_structure/yolov5/labels", "yolov5/labels", "labels")
RELEASED_NORMAL_SPLITS = {"train": 1600, "val": 201, "test-healthy": 1039}
__all__ = ["CLASSES", "EVALUATED_CLASSES", "SPLITS", "WristConfig", "WristRadiographs", "open_dataset"]


@dataclass(frozen=True)
class YoloBox:
    label: str
    x_centre: float
    y_centre: float
    width: float
    height: float


EDGE_TOLERANCE = 1e-3  # of the image side: rounding in a label file, not a box leaving the image


def read_yolo_labels(path: Path) -> list[YoloBox]:
    boxes = []
    for number, line in enumerate(read_utf8(path, "label file").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            class_id, values = int(fields[0]), [float(v) for v in fields[1:]]
        except ValueError:
            raise AnobenchError(f"{path}:{number}: not a YOLO line (class x y w h): {line!r}") from None
        if len(values) != 4:
            raise AnobenchError(f"{path}:{number}: a YOLO line has 5 fields, this one {len(fields)}")
        if not 0 <= class_id < len(CLASSES):
            raise AnobenchError(
                f"{path}:{number}: unknown class id {class_id} (GRAZPEDWRI-DX has 0..{len(CLASSES) - 1})"
            )
        if not all(0.0 <= v <= 1.0 for v in values):
            raise AnobenchError(f"{path}:{number}: box {values} is outside [0, 1] (YOLO boxes are normalised)")
        x, y, width, height = values
        if width <= 0 or height <= 0:
            raise AnobenchError(f"{path}:{number}: box {values} has no extent (width and height must be positive)")
        if (
            min(x - width / 2, y - height / 2) < -EDGE_TOLERANCE
            or max(x + width / 2, y + height / 2) > 1 + EDGE_TOLERANCE
        ):
            raise AnobenchError(
                f"{path}:{number}: box {values} reaches outside the image (centre ± half its size must lie in [0, 1])"
            )
        boxes.append(YoloBox(CLASSES[class_id], *values))
    return boxes


def prepared_boxes(boxes: Sequence[YoloBox], height: int, width: int, size: int) -> tuple[Box, ...]:
    prepared = []
    for box in boxes:
        left, right = (box.x_centre - box.width / 2) * width, (box.x_centre + box.width / 2) * width
        top, bottom = (box.y_centre - box.height / 2) * height, (box.y_centre + box.height / 2) * height
        prepared.append(Box(*box_after_preparation(left, top, right, bottom, height, width, size), box.label))
    return tuple(prepared)


class WristRadiographs:
    splits = SPLITS
    evaluation = EVALUATION

    def __init__(
        self,
        root: Path,
        config: WristConfig,
        image_size: int,
        healthy_proportions: Mapping[str, int] = RELEASED_NORMAL_SPLITS,
    ) -> None:
        self.root, self.config, self.image_size = root, config, image_size
        self.healthy_proportions = dict(healthy_proportions)
        table = root / "dataset.csv"
        if not table.is_file():
            raise WRIST.missing(f"{table} does not exist")
        labels = next((root / folder for folder in LABEL_FOLDERS if (root / folder).is_dir()), None)
        if labels is None:
            raise WRIST.missing(f"no label folder ({' or '.join(LABEL_FOLDERS)}) in {root}")
        rows = list(csv.DictReader(read_utf8(table, "table").splitlines()))
        if rows and not {"filestem", "patient_id"} <= set(rows[0]):
            raise WRIST.missing(f"{table} has no 'filestem' and 'patient_id' columns")
        images = {path.stem: path for path in root.rglob("*.png")}
        self.records = []
        for row in rows:
            stem = row["filestem"]
            if stem not in images:
                raise WRIST.missing(f"image {stem}.png named in dataset.csv is not below {root}")
            label_file = labels / f"{stem}.txt"
            if not label_file.is_file():
                raise WRIST.missing(f"label file {label_file} does not exist")
            self.records.append((stem, row["patient_id"], images[stem], label_file))

    @cached_property
    def _evaluated_boxes(self) -> dict[str, list[YoloBox]]:
        """Every image's boxes of the evaluated classes (all label files are read and checked here)."""
        return {
            stem: [box for box in read_yolo_labels(label_file) if box.label in EVALUATED_CLASSES]
            for stem, _, _, label_file in self.records
        }

    @cached_property
    def _split_of(self) -> dict[str, str]:
        abnormal = {stem for stem, boxes in self._evaluated_boxes.items() if boxes}
        patients_with_findings = {patient for stem, patient, _, _ in self.records if stem in abnormal}
        healthy_patients = sorted({patient for _, patient, _, _ in self.records} - patients_with_findings)
        order = np.random.default_rng(self.config.split_seed).permutation(len(healthy_patients))
        total = sum(self.healthy_proportions.values())
        train_end = round(len(order) * self.healthy_proportions["train"] / total)
        val_end = train_end + round(len(order) * self.healthy_proportions["val"] / total)
        group = {}
        for rank, index in enumerate(order):
            group[healthy_patients[index]] = (
                "train" if rank < train_end else "val" if rank < val_end else "test-healthy"
            )
        return {
            stem: ("test" if stem in abnormal else "test-healthy")
            if patient in patients_with_findings
            else group[patient]
            for stem, patient, _, _ in self.records
        }

    @cached_property
    def _records_of(self) -> dict[str, dict[str, tuple[str, Path]]]:
        """Per split, the images by file stem (the case id) with their patient and file."""
        grouped: dict[str, dict[str, tuple[str, Path]]] = {split: {} for split in SPLITS}
        for stem, patient, image_path, _ in self.records:
            grouped[self._split_of[stem]][stem] = (patient, image_path)
        return grouped

    def case_ids(self, split: str) -> list[str]:
        if split not in SPLITS:
            raise AnobenchError(f"unknown split {split!r}; available: {', '.join(SPLITS)}")
        return list(self._records_of[split])

    def load_case(self, split: str, case_id: str) -> Case:
        if case_id not in self.case_ids(split):
            raise AnobenchError(f"wrist split {split!r} has no case {case_id!r}")
        patient, image_path = self._records_of[split][case_id]
        raw = read_png(image_path)
        height, width = raw.shape
        prepared = prepared_boxes(self._evaluated_boxes[case_id], height, width, self.image_size)
        return Case(case_id, prepare_for_preset(raw, self.image_size), None, patient, prepared)

    def manifest(self) -> dict[str, Any]:
        files = {"dataset.csv": sha256_file(self.root / "dataset.csv")}
        for _, _, image_path, label_file in self.records:
            for path in (image_path, label_file):
                files[str(path.relative_to(self.root))] = sha256_file(path)
        return {"files": dict(sorted(files.items())), "settings": to_plain(self.config)}

    def settings(self) -> dict[str, Any]:
        sizes = {split: len(self._records_of[split]) for split in SPLITS}
        return {
            **to_plain(self.config),
            "root": str(self.root),
            "layout": "yolo",
            "image_size": self.image_size,
            "evaluated_classes": list(EVALUATED_CLASSES),
            "split_sizes": sizes,
        }


@dataclass(frozen=True)
class WristOptions(WristConfig):
    layout: Literal["yolo", "released"] = "yolo"  # yolo (the release) or released (the THOR work's split lists)


def open_dataset(options: Mapping[str, str], context: DatasetContext) -> Dataset:
    """`layout=yolo` (default) reads the release itself, `layout=released` the THOR work's split lists
    (`anobench.datasets.wrist_released`)."""
    chosen = build_config(WristOptions, options)
    root = dataset_root(WRIST, context)
    config = WristConfig(split_seed=chosen.split_seed)
    if chosen.layout == "released":
        lists = released_splits_folder(root)
        if lists is None:
            raise WRIST.missing(f"no splits/train_normal.csv (the THOR work's wrist lists) below {root}")
        return ReleasedWristSplits(root, lists, context.image_size)
    return WristRadiographs(root, config, context.image_size)
