"""What both wrist layouts share: the GRAZPEDWRI-DX source, its classes, the splits and evaluation.

The YOLO release reader (`wrist`) and the THOR work's split lists (`wrist_released`) both import
from here, so neither imports the other's module.
"""

from __future__ import annotations

from dataclasses import dataclass

from anobench.api import Evaluation
from anobench.datasets.location import DataSource

WRIST = DataSource(
    "wrist",
    "GRAZPEDWRI-DX (https://doi.org/10.6084/m9.figshare.14825193, images_part1-4.zip, folder_structure.zip, "
    "dataset.csv)",
    "dataset.csv, the PNG images below the folder, folder_structure/yolov5/labels/<filestem>.txt; "
    "or, with --data layout=released, the THOR work's lists: splits/train_normal.csv, val_normal.csv, "
    "test_normal.csv, <class>.csv, <class>_ann.csv, <class>_neg.csv",
)
CLASSES = (
    "boneanomaly",
    "bonelesion",
    "foreignbody",
    "fracture",
    "metal",
    "periostealreaction",
    "pronatorsign",
    "softtissue",
    "text",
)
EVALUATED_CLASSES = ("boneanomaly", "foreignbody", "fracture", "metal", "periostealreaction", "softtissue")
SPLITS = ("train", "val", "test-healthy", "test")
# the box protocol's operating point comes from healthy test images, as in the THOR paper
EVALUATION = Evaluation("box", classes=EVALUATED_CLASSES, healthy_split="test-healthy", validation_split="val")


@dataclass(frozen=True)
class WristConfig:
    split_seed: int = 0  # of the patient split of the YOLO release (the released lists need none)
