"""`example-squares`: bright squares on smooth noise, generated in memory from a seed.

Shows every part of the data set contract: splits listed by case id, cases loaded on demand as
float32 H×W images in [0, 1] with bool masks, a declared evaluation (pixel protocol, the healthy
split that calibrates thresholds), and a manifest of what was read (here: nothing but settings).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np
from scipy import ndimage

from anobench.api import Case, DatasetContext, Evaluation
from anobench.config import bounded, build_config
from anobench.errors import AnobenchError


@dataclass(frozen=True)
class SquaresConfig:
    seed: int = 0
    cases: int = bounded(12, 1)  # per split


class Squares:
    splits = ("train", "val", "test")
    evaluation = Evaluation(protocol="pixel", healthy_split="val", validation_split="val")

    def __init__(self, config: SquaresConfig, image_size: int) -> None:
        self.config, self.image_size = config, image_size

    def case_ids(self, split: str) -> list[str]:
        if split not in self.splits:
            raise AnobenchError(f"unknown split {split!r} of example-squares; available: {', '.join(self.splits)}")
        return [f"{split}-{number:03d}" for number in range(self.config.cases)]

    def load_case(self, split: str, case_id: str) -> Case:
        # checked by its number, not against the list of ids: loading a case costs the same in any split size
        digits = case_id.rpartition("-")[2]
        number = int(digits) if digits.isdigit() else -1
        if not 0 <= number < self.config.cases or case_id != f"{split}-{number:03d}" or split not in self.splits:
            raise AnobenchError(f"example-squares split {split!r} has no case {case_id!r}")
        rng = np.random.default_rng([self.config.seed, self.splits.index(split), number])
        side = self.image_size
        image = ndimage.gaussian_filter(rng.random((side, side)), side / 16) * 0.5 + 0.25
        mask = np.zeros((side, side), dtype=bool)
        if split == "test":  # only the test split has anomalies
            width = int(rng.integers(side // 16 + 2, side // 4))
            top, left = rng.integers(0, side - width, size=2)
            mask[top : top + width, left : left + width] = True
            image[mask] = 0.95
        return Case(case_id, np.clip(image, 0, 1).astype(np.float32), mask, subject_id=case_id)

    def manifest(self) -> dict[str, Any]:
        return {"files": {}, "settings": asdict(self.config)}  # generated: no file is read

    def settings(self) -> dict[str, Any]:
        return {**asdict(self.config), "image_size": self.image_size}


def open_dataset(options: Mapping[str, str], context: DatasetContext) -> Squares:
    return Squares(build_config(SquaresConfig, options), context.image_size)
