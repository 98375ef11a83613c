"""wrist-phantom: synthetic wrist radiographs in the GRAZPEDWRI-DX layout, read by the `wrist` adapter.

A posterior-anterior view, fingers up: soft tissue of forearm and hand, radius and ulna (with a
distal flare), seven carpals and four metacarpal bases, every bone a medulla inside a bright
cortical rim. Geometry (angle, position, widths) and intensities (gamma, noise, blur) vary per
image, and each image carries a side marker (class `text`, as real radiographs do). Abnormal
images add one finding of the THOR paper's Table 2 classes drawn onto that anatomy — a fracture
line across the radius, a metal plate with screws, a periosteal reaction along the radial cortex,
a foreign body in soft tissue, soft-tissue swelling — and its YOLO box is the finding's own
bounding box. Written as 16-bit PNGs of 160×128 (not square, as radiographs are), YOLO label files
and `dataset.csv`; generated on first use into the cache, deterministic by seed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
from PIL import Image
from rich.progress import Progress
from scipy import ndimage

from anobench.api import DatasetContext
from anobench.config import build_config, to_plain
from anobench.datasets.generated import ensure_generated, publish, staging_folder
from anobench.datasets.wrist import CLASSES, WristConfig, WristRadiographs
from anobench.paths import cache_root

GENERATOR_VERSION = 1
HEIGHT, WIDTH = 160, 128
FINDINGS = ("fracture", "metal", "periostealreaction", "foreignbody", "softtissue")
IMAGES_PER_HEALTHY_PATIENT = 2


@dataclass(frozen=True)
class WristPhantomConfig:
    seed: int = 0  # the generator's seed
    n_train: int = 800  # healthy training images
    n_val: int = 64  # healthy validation images
    n_test_healthy: int = 64  # healthy test images
    n_test: int = 96  # test images with a finding


def phantom_dir(config: WristPhantomConfig) -> Path:
    counts = f"{config.n_train}-{config.n_val}-{config.n_test_healthy}-{config.n_test}"
    name = f"v{GENERATOR_VERSION}-seed{config.seed}-n{counts}"
    return cache_root() / "wrist-phantom" / name


class _Frame:
    """Pixel grid in forearm coordinates: u across, v along the forearm (units of image height)."""

    def __init__(self, rng: np.random.Generator) -> None:
        rows, columns = np.meshgrid(
            np.arange(HEIGHT, dtype=np.float64), np.arange(WIDTH, dtype=np.float64), indexing="ij"
        )
        angle = np.deg2rad(rng.uniform(-8, 8))
        centre_row = HEIGHT / 2 + rng.uniform(-6, 6)
        centre_column = WIDTH / 2 + rng.uniform(-6, 6)
        scale = HEIGHT * rng.uniform(0.92, 1.08)
        dy, dx = rows - centre_row, columns - centre_column
        self.u = (dx * np.cos(angle) + dy * np.sin(angle)) / scale
        self.v = (-dx * np.sin(angle) + dy * np.cos(angle)) / scale
        self.edge = 1.2 / scale  # soft edges of about one pixel

    def soft(self, distance_inside: np.ndarray) -> np.ndarray:
        return np.clip(distance_inside / self.edge + 0.5, 0.0, 1.0)

    def rod(
        self, centre_u: float, half_width: np.ndarray | float, v_from: float, v_to: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """A bone shaft's (inside, cortical rim) between v_from and v_to."""
        inside = self.soft(half_width - np.abs(self.u - centre_u)) * self.soft(
            np.minimum(self.v - v_from, v_to - self.v)
        )
        rim = inside * (1 - self.soft(half_width - 0.012 - np.abs(self.u - centre_u)))
        return inside, rim

    def ellipse(self, u0: float, v0: float, ru: float, rv: float) -> tuple[np.ndarray, np.ndarray]:
        radius = np.sqrt(((self.u - u0) / ru) ** 2 + ((self.v - v0) / rv) ** 2)
        inside = self.soft((1 - radius) * min(ru, rv))
        rim = inside * (1 - self.soft((0.7 - radius) * min(ru, rv)))
        return inside, rim


@dataclass
class _Anatomy:
    frame: _Frame
    soft_tissue: np.ndarray
    bone: np.ndarray
    rim: np.ndarray
    radius_u: float
    radius_half_width: float


def _anatomy(rng: np.random.Generator) -> _Anatomy:
    frame = _Frame(rng)
    jitter = lambda: rng.uniform(0.9, 1.1)  # noqa: E731
    hand = frame.soft(np.minimum(0.21 * jitter() - np.abs(frame.u), -0.08 - frame.v))
    forearm = frame.soft(np.minimum(0.16 * jitter() - np.abs(frame.u), frame.v + 0.12))
    soft_tissue = np.maximum(hand, forearm)
    radius_u, radius_half_width = -0.07 * jitter(), 0.04 * jitter()
    flare = radius_half_width + 0.025 * frame.soft(0.05 - frame.v)
    parts = [
        frame.rod(radius_u, flare, -0.04, 0.7),
        frame.rod(0.09 * jitter(), 0.028 * jitter(), 0.0, 0.7),
        *[frame.rod(u, 0.018 * jitter(), -0.7, -0.2) for u in (-0.09, -0.03, 0.03, 0.09)],
    ]
    for _ in range(7):
        parts.append(
            frame.ellipse(
                rng.uniform(-0.1, 0.1), rng.uniform(-0.17, -0.07), rng.uniform(0.022, 0.032), rng.uniform(0.022, 0.032)
            )
        )
    bone = np.maximum.reduce([inside for inside, _ in parts])
    rim = np.maximum.reduce([rim for _, rim in parts])
    return _Anatomy(frame, soft_tissue, bone, rim, radius_u, radius_half_width)


def _finding(kind: str, anatomy: _Anatomy, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(mask of the finding, signed intensity change)."""
    f, r_u, r_w = anatomy.frame, anatomy.radius_u, anatomy.radius_half_width
    along = rng.uniform(0.1, 0.3)
    if kind == "fracture":
        line = f.soft(0.008 - np.abs(f.v - along - rng.uniform(-0.4, 0.4) * (f.u - r_u)))
        mask = line * f.soft(r_w - np.abs(f.u - r_u))
        return mask, -0.6 * mask
    if kind == "metal":
        plate = f.soft(0.012 - np.abs(f.u - (r_u - r_w - 0.01))) * f.soft(0.1 - np.abs(f.v - along))
        screws = sum(
            f.soft(0.005 - np.abs(f.v - along - offset)) * f.soft(r_w + 0.015 - np.abs(f.u - r_u))
            for offset in (-0.07, 0.0, 0.07)
        )
        mask = np.clip(plate + screws, 0, 1)
        return mask, 1.2 * mask
    if kind == "periostealreaction":
        side = rng.choice([-1.0, 1.0])
        band = f.soft(0.006 - np.abs(f.u - (r_u + side * (r_w + 0.012)))) * f.soft(0.06 - np.abs(f.v - along))
        return band, 0.35 * band
    if kind == "foreignbody":
        u0 = rng.choice([-1.0, 1.0]) * rng.uniform(0.13, 0.15)
        blob = f.ellipse(u0, along, rng.uniform(0.008, 0.015), rng.uniform(0.01, 0.02))[0]
        return blob, 0.7 * blob
    side = rng.choice([-1.0, 1.0])  # soft-tissue swelling: a bulge beyond the forearm's contour
    bulge = f.ellipse(side * 0.16, along, rng.uniform(0.04, 0.06), rng.uniform(0.06, 0.09))[0]
    added = bulge * (1 - anatomy.soft_tissue)
    return added, 0.25 * added


def _render(anatomy: _Anatomy, change: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    image = 0.04 + 0.25 * anatomy.soft_tissue + 0.3 * anatomy.bone + 0.35 * anatomy.rim + change
    image = np.clip(image, 0, None) ** rng.uniform(0.85, 1.15)
    image = ndimage.gaussian_filter(image, rng.uniform(0.4, 0.8))
    return np.clip(image + rng.uniform(0.005, 0.015) * rng.standard_normal(image.shape), 0, 1)


def _marker(image: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A bright side letter near a top corner (class `text`); returns its box (top, left, bottom, right)."""
    top, left = int(rng.integers(3, 10)), int(rng.choice([int(rng.integers(3, 10)), WIDTH - 14]))
    image[top : top + 10, left : left + 3] = 0.95
    image[top + 7 : top + 10, left : left + 8] = 0.95
    return top, left, top + 10, left + 8


def _yolo_line(class_name: str, top: int, left: int, bottom: int, right: int) -> str:
    x, y = (left + right) / 2 / WIDTH, (top + bottom) / 2 / HEIGHT
    return f"{CLASSES.index(class_name)} {x:.6f} {y:.6f} {(right - left) / WIDTH:.6f} {(bottom - top) / HEIGHT:.6f}"


def _bounding_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, columns = np.nonzero(mask > 0.5)
    return int(rows.min()), int(columns.min()), int(rows.max()) + 1, int(columns.max()) + 1


def _write_image(root: Path, stem: str, rng: np.random.Generator, finding: str | None) -> None:
    while True:
        anatomy = _anatomy(rng)
        mask, change = _finding(finding, anatomy, rng) if finding else (None, np.zeros((HEIGHT, WIDTH)))
        if mask is None or (mask > 0.5).sum() >= 6:  # findings clipped by the image border are drawn again
            break
    image = _render(anatomy, change, rng)
    lines = [_yolo_line("text", *_marker(image, rng))]
    if mask is not None:
        lines.append(_yolo_line(finding, *_bounding_box(mask)))  # type: ignore[arg-type]
    path = root / "images_part1" / f"{stem}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(image * 65535).astype(np.uint16)).save(path)
    labels = root / "folder_structure" / "yolov5" / "labels" / f"{stem}.txt"
    labels.parent.mkdir(parents=True, exist_ok=True)
    labels.write_text("\n".join(lines) + "\n")


def generate(config: WristPhantomConfig, root: Path, advance: Callable[[], None] = lambda: None) -> Path:
    """Write the phantom to `root` (replacing it) and return it. Deterministic given `config`."""
    staging = staging_folder(root)
    healthy_patients = -(-(config.n_train + config.n_val + config.n_test_healthy) // IMAGES_PER_HEALTHY_PATIENT)
    rows = []
    for patient in range(healthy_patients + config.n_test):
        abnormal = patient >= healthy_patients
        for view in range(1 if abnormal else IMAGES_PER_HEALTHY_PATIENT):
            stem = f"{patient:04d}_{patient * 10 + view:010d}_01_WRI-{'L' if patient % 2 else 'R'}{view + 1}_M010"
            finding = FINDINGS[(patient - healthy_patients) % len(FINDINGS)] if abnormal else None
            _write_image(staging, stem, np.random.default_rng([config.seed, patient, view]), finding)
            rows.append({"filestem": stem, "patient_id": str(patient), "view": str(view + 1)})
            advance()
    with open(staging / "dataset.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return publish(staging, root, f"anobench wrist-phantom v{GENERATOR_VERSION}", to_plain(config))


def generate_with_progress(config: WristPhantomConfig, root: Path) -> Path:
    """`generate` with a progress bar (in `ensure_generated`'s child process)."""
    total = config.n_train + config.n_val + config.n_test_healthy + config.n_test
    with Progress(transient=True) as progress:
        task = progress.add_task("generating wrist-phantom", total=total)
        return generate(config, root, lambda: progress.advance(task))


def ensure(config: WristPhantomConfig) -> Path:
    return ensure_generated(phantom_dir(config), generate_with_progress, config)


def open_dataset(options: Mapping[str, str], context: DatasetContext) -> WristRadiographs:
    config = build_config(WristPhantomConfig, options)
    proportions = {"train": config.n_train, "val": config.n_val, "test-healthy": config.n_test_healthy}
    return WristRadiographs(ensure(config), WristConfig(split_seed=config.seed), context.image_size, proportions)
