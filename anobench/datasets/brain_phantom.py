"""brain-phantom: healthy and stroke-like slices made from the MNI152 template that nilearn ships.

Each case is an axial slice near the middle of the 1 mm MNI152 (2009a, 197×233×189) T1 template,
cut by `nifti.axial_slice`, the slicing every brain source uses (anterior up, left at column 0),
then randomly deformed (affine and smooth elastic), with gamma, bias field and noise. Anomalous cases
add one stroke-like lesion: an irregular T1-hypointense region inside the brain with partial-volume
edges, its size drawn so that the small / medium / large bins of the THOR evaluation (at 128×128)
are all populated. Slices are prepared exactly as THOR prepares ATLAS (98th-percentile scaling,
square padding with the minimum, resize to 128) and written in the released PNG + CSV layout, then
read back through `png_slices`, the reader real data uses.

The phantom is generated on first use into the cache (`$ANOBENCH_CACHE`, default
`~/.cache/anobench`) and is a pure function of its seed and sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
from rich.progress import Progress
from scipy import ndimage

from anobench.api import DatasetContext, Evaluation
from anobench.config import build_config, to_plain
from anobench.datasets.generated import ensure_generated, generate_splits
from anobench.datasets.nifti import axial_slice, canonical_array
from anobench.datasets.png_slices import PngSliceDataset, SplitFiles, write_filename_csv, write_png
from anobench.imaging import prepare_mask, prepare_slice
from anobench.paths import cache_root

GENERATOR_VERSION = 3  # 2: slices in the shared brain orientation (v1 lay on their side); 3: the same on every CPU
NATIVE_SIZE = 128  # the size slices are written at, as in the THOR work
MID_AXIAL_SLICE = 95
TEMPLATE_NAME = "nilearn MNI152 template"
# Lesion pixel counts at 128×128 drawn per size bin (evaluation.md bins: (3,71], (71,570], (570,10000]);
# the large bin's upper end is limited by the brain area of a mid-axial slice.
LESION_PIXEL_RANGES = ((16.0, 71.0), (71.0, 570.0), (570.0, 2200.0))

SPLITS = {
    "train": SplitFiles("CAPS_IXI/splits/ixi-t1_train_2D.csv"),
    "val": SplitFiles("CAPS_IXI/splits/ixi-t1_val_2D.csv"),
    "test-healthy": SplitFiles("CAPS_IXI/splits/ixi-t1_test_2D.csv"),
    "test": SplitFiles("ATLAS/splits/atlas_train_png.csv", "ATLAS/splits/atlas_train_mask_png.csv"),
}

EVALUATION = Evaluation("pixel", healthy_split="val", validation_split="val", lesion_contrast="dark", modality="t1")


@dataclass(frozen=True)
class PhantomConfig:
    seed: int = 0  # the generator's seed
    n_train: int = 800  # healthy training slices
    n_val: int = 64  # healthy validation slices
    n_test_healthy: int = 64  # healthy test slices
    n_test: int = 96  # test slices with a lesion


@dataclass(frozen=True)
class Template:
    t1: np.ndarray  # 197×233×189 (RAS+) in [0, 1]
    brain: np.ndarray  # tissue probability (grey + white matter), same grid


def phantom_dir(config: PhantomConfig) -> Path:
    name = (
        f"v{GENERATOR_VERSION}-seed{config.seed}-n{config.n_train}-{config.n_val}-"
        f"{config.n_test_healthy}-{config.n_test}"
    )
    return cache_root() / "brain-phantom" / name


def load_template() -> Template:
    from nilearn import datasets as nilearn_datasets

    t1 = canonical_array(nilearn_datasets.load_mni152_template(resolution=1))[0]
    gm = canonical_array(nilearn_datasets.load_mni152_gm_template(resolution=1))[0]
    wm = canonical_array(nilearn_datasets.load_mni152_wm_template(resolution=1))[0]
    return Template(t1=t1 / max(float(t1.max()), 1e-6), brain=np.clip(gm + wm, 0.0, 1.0))


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Zero-mean, unit-peak smooth random field."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
    return field / max(float(np.abs(field).max()), 1e-8)


def deformation(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Sampling coordinates of a random affine plus smooth elastic deformation."""
    rows, cols = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    center = np.array(shape, dtype=np.float64)[:, None, None] / 2
    angle = np.deg2rad(rng.uniform(-10, 10))
    scale = rng.uniform(0.9, 1.1) * np.array([rng.uniform(0.96, 1.04), 1.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = rotation / scale[:, None]
    grid = np.stack([rows, cols]).astype(np.float64) - center
    coords = np.einsum("ij,jhw->ihw", matrix, grid) + center
    coords += rng.uniform(-6, 6, size=2)[:, None, None]
    amplitude = rng.uniform(1.5, 4.0)
    coords += amplitude * np.stack([smooth_field(rng, shape, 12.0) for _ in range(2)])
    return coords


def _healthy_slice(template: Template, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A deformed, intensity-varied slice (native 233×197) and its brain-tissue probability."""
    z = MID_AXIAL_SLICE + int(rng.integers(-8, 9))
    t1, brain = (axial_slice(volume, z, TEMPLATE_NAME) for volume in (template.t1, template.brain))
    coords = deformation(rng, t1.shape)
    image = ndimage.map_coordinates(t1, coords, order=1, mode="constant")
    brain = ndimage.map_coordinates(brain, coords, order=1, mode="constant")
    image = np.clip(image, 0, 1) ** rng.uniform(0.85, 1.2)
    bias = np.exp(rng.uniform(0.05, 0.15) * smooth_field(rng, image.shape, 40.0))
    head = ndimage.binary_dilation(image > 0.02, iterations=2)
    noise = rng.uniform(0.005, 0.02) * rng.standard_normal(image.shape)
    image = np.clip(image * bias + noise * head, 0, None) * head
    return image.astype(np.float32), brain.astype(np.float32)


def _add_lesion(
    image: np.ndarray, brain: np.ndarray, rng: np.random.Generator, target_pixels_128: float
) -> tuple[np.ndarray, np.ndarray]:
    """Add one irregular hypointense lesion of about `target_pixels_128` pixels at 128×128."""
    native_per_128 = (max(image.shape) / NATIVE_SIZE) ** 2
    target_area = target_pixels_128 * native_per_128
    inside = brain > 0.5
    eroded = ndimage.binary_erosion(inside, iterations=3)
    candidates = np.argwhere(eroded if eroded.any() else inside)
    center = candidates[rng.integers(len(candidates))]
    rows, cols = np.meshgrid(np.arange(image.shape[0]), np.arange(image.shape[1]), indexing="ij")
    angle = rng.uniform(0, np.pi)
    elongation = rng.uniform(1.0, 2.0)
    du, dv = rows - center[0], cols - center[1]
    along = du * np.cos(angle) + dv * np.sin(angle)
    across = -du * np.sin(angle) + dv * np.cos(angle)
    radius = np.sqrt(target_area / np.pi)
    distance = np.sqrt((along / np.sqrt(elongation)) ** 2 + (across * np.sqrt(elongation)) ** 2)
    wobble = 0.35 * smooth_field(rng, image.shape, max(radius / 2, 1.5))
    # Stroke lesions follow tissue: they cover brain, not ventricles or the outside.
    lesion = (distance / radius + wobble <= 1.0) & (brain > 0.3)
    if lesion.sum() < 0.3 * target_area:  # clipped by tissue: grow into the surrounding brain
        lesion = (distance / (radius * 1.4) + wobble <= 1.0) & (brain > 0.3)
    edge = np.clip(ndimage.gaussian_filter(lesion.astype(np.float32), 1.0), 0, 1)
    core = rng.uniform(0.12, 0.4) * (1 + 0.15 * smooth_field(rng, image.shape, 3.0))
    image = image * (1 - edge) + (core * image.max()) * edge
    return image.astype(np.float32), lesion


def _write_split(
    root: Path,
    template: Template,
    config: PhantomConfig,
    split: str,
    count: int,
    progress: Progress,
) -> None:
    split_index = list(SPLITS).index(split)
    mask_list = SPLITS[split].masks
    anomalous = mask_list is not None
    images, masks = [], []
    task = progress.add_task(f"generating brain-phantom: {split} split", total=count)
    for index in range(count):
        rng = np.random.default_rng([config.seed, split_index, index])
        image, brain = _healthy_slice(template, rng)
        if anomalous:
            subject = f"sub-r{split_index:03d}s{index + 1:03d}"
            low, high = LESION_PIXEL_RANGES[index % len(LESION_PIXEL_RANGES)]
            target = float(np.exp(rng.uniform(np.log(low), np.log(high))))
            image, lesion = _add_lesion(image, brain, rng, target)
            image_name = f"ATLAS/png/{subject}_ses-1_space-MNI152NLin2009aSym_T1w.png"
            mask_name = f"ATLAS/png_mask/{subject}_ses-1_space-MNI152NLin2009aSym_label-L_desc-T1lesion_mask.png"
            write_png(root / mask_name, prepare_mask(lesion, NATIVE_SIZE).astype(np.float32))
            masks.append(mask_name)
        else:
            subject = f"sub-PH{split_index}{index + 1:04d}"
            image_name = f"CAPS_IXI/png/{subject}_ses-M00_T1w_space-MNI152NLin2009cSym_res-1x1x1_T1w.png"
        write_png(root / image_name, prepare_slice(image, NATIVE_SIZE))
        images.append(image_name)
        progress.advance(task)
    write_filename_csv(root / SPLITS[split].images, images)
    if mask_list is not None:
        write_filename_csv(root / mask_list, masks)


def generate(config: PhantomConfig, root: Path) -> Path:
    """Write the phantom to `root` (replacing it) and return it. Deterministic given `config`."""
    template = load_template()
    return generate_splits(
        root,
        f"anobench brain-phantom v{GENERATOR_VERSION}",
        config,
        lambda staging, split, count, progress: _write_split(staging, template, config, split, count, progress),
    )


def ensure(config: PhantomConfig) -> Path:
    """The phantom's folder, generated first if it is not complete in the cache."""
    return ensure_generated(phantom_dir(config), generate, config)


def open_dataset(options: Mapping[str, str], context: DatasetContext) -> PngSliceDataset:
    config = build_config(PhantomConfig, options)
    root = ensure(config)
    return PngSliceDataset(root, SPLITS, context.image_size, EVALUATION, {"phantom": to_plain(config)})
