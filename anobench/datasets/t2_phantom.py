"""brain-phantom-t2: T2-like slices with bright lesions of three kinds, offline, from nilearn's MNI152.

The field's other test sets (BraTS, MSLUB, WMH) are read on T2 or FLAIR, where lesions are bright,
not dark as ATLAS's strokes on T1. This phantom gives such data everywhere: each slice is cut from
nilearn's MNI152 T1 template (the brain phantom's slice range, `nifti.axial_slice`), skull-stripped
with its brain mask, and given a T2 contrast by inverting the T1 intensities inside the brain
(cerebrospinal fluid brightest, grey matter above white matter, as on T2), then deformed, with
gamma, bias field and noise as the brain phantom (`brain_phantom.deformation`). Anomalous slices
carry one pathology (`pathology`):
- `tumour`: one glioma-like mass, a very bright irregular core inside a moderately bright oedema,
  the lesion being the whole tumour (core and oedema, as BraTS's whole-tumour label);
- `ms`: two to eight small ovoid hyperintensities in white matter, mostly near the ventricles;
- `wmh`: confluent periventricular hyperintense caps and bands.
The total lesion area is drawn per slice so that the small / medium / large bins are all populated
(fewer large ones for MS). Healthy splits do not depend on the pathology. Written in the released
PNG + CSV layout and read back by `png_slices`, like the brain phantom; generated on first use into
the cache, a pure function of its settings, on numpy's baseline kernels (`generated`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping

import numpy as np
from rich.progress import Progress
from scipy import ndimage

from anobench.api import DatasetContext, Evaluation
from anobench.config import build_config, to_plain
from anobench.datasets.brain_phantom import MID_AXIAL_SLICE, NATIVE_SIZE, deformation, smooth_field
from anobench.datasets.generated import ensure_generated, generate_splits
from anobench.datasets.nifti import axial_slice, canonical_array
from anobench.datasets.png_slices import PngSliceDataset, SplitFiles, write_filename_csv, write_png
from anobench.imaging import prepare_mask, prepare_slice
from anobench.paths import cache_root

GENERATOR_VERSION = 1
TEMPLATE_NAME = "nilearn MNI152 template"
Pathology = Literal["tumour", "ms", "wmh"]
# total lesion pixels at 128×128 per size bin, drawn in turn (MS lesions are rarely large)
LESION_PIXEL_RANGES = {
    "tumour": ((30.0, 71.0), (71.0, 570.0), (570.0, 2600.0)),
    "ms": ((12.0, 71.0), (71.0, 300.0), (71.0, 570.0)),
    "wmh": ((20.0, 71.0), (71.0, 570.0), (570.0, 1500.0)),
}
SPLITS = {
    "train": SplitFiles("splits/train.csv"),
    "val": SplitFiles("splits/val.csv"),
    "test-healthy": SplitFiles("splits/test-healthy.csv"),
    "test": SplitFiles("splits/test.csv", "splits/test_mask.csv"),
}
EVALUATION = Evaluation("pixel", healthy_split="val", validation_split="val", lesion_contrast="bright", modality="t2")


@dataclass(frozen=True)
class T2PhantomConfig:
    pathology: Pathology = "tumour"  # tumour (whole tumour), ms (small white-matter lesions) or wmh (periventricular)
    seed: int = 0  # the generator's seed
    n_train: int = 800  # healthy training slices
    n_val: int = 64  # healthy validation slices
    n_test_healthy: int = 64  # healthy test slices
    n_test: int = 96  # test slices with lesions


@dataclass(frozen=True)
class T2Template:
    t2: np.ndarray  # 197×233×189 (RAS+), in [0, 1], zero outside the brain
    white: np.ndarray  # white-matter probability, same grid
    fluid: np.ndarray  # cerebrospinal-fluid share inside the brain mask, same grid


def phantom_dir(config: T2PhantomConfig) -> Path:
    sizes = f"{config.n_train}-{config.n_val}-{config.n_test_healthy}-{config.n_test}"
    return cache_root() / "brain-phantom-t2" / f"v{GENERATOR_VERSION}-{config.pathology}-seed{config.seed}-n{sizes}"


def load_t2_template() -> T2Template:
    from nilearn import datasets as nilearn_datasets

    t1 = canonical_array(nilearn_datasets.load_mni152_template(resolution=1))[0]
    gm = canonical_array(nilearn_datasets.load_mni152_gm_template(resolution=1))[0]
    wm = canonical_array(nilearn_datasets.load_mni152_wm_template(resolution=1))[0]
    mask = canonical_array(nilearn_datasets.load_mni152_brain_mask(resolution=1))[0] > 0.5
    t1 = t1 / max(float(t1.max()), 1e-6)
    soft = ndimage.gaussian_filter(mask.astype(np.float32), 1.0)  # a partial-volume brain edge
    t2 = np.clip(1.05 - t1, 0.0, 1.0) * soft  # T2: the fluid T1 shows dark is bright, white matter darkest
    fluid = np.clip(mask - gm - wm, 0.0, 1.0)
    return T2Template(t2=(t2 / max(float(t2.max()), 1e-6)).astype(np.float32), white=wm, fluid=fluid)


def _healthy_slice(template: T2Template, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """A deformed, intensity-varied T2 slice (native 233×197), its white-matter and fluid maps."""
    z = MID_AXIAL_SLICE + int(rng.integers(-8, 9))
    t2, white, fluid = (axial_slice(v, z, TEMPLATE_NAME) for v in (template.t2, template.white, template.fluid))
    coords = deformation(rng, t2.shape)
    image, white, fluid = (ndimage.map_coordinates(v, coords, order=1, mode="constant") for v in (t2, white, fluid))
    image = np.clip(image, 0, 1) ** rng.uniform(0.85, 1.2)
    bias = np.exp(rng.uniform(0.05, 0.15) * smooth_field(rng, image.shape, 40.0))
    inside = image > 0.02
    noise = rng.uniform(0.005, 0.02) * rng.standard_normal(image.shape)
    image = np.clip(image * bias + noise * inside, 0, None) * inside
    return image.astype(np.float32), white.astype(np.float32), fluid.astype(np.float32)


def _blob(shape: tuple[int, int], center: np.ndarray, radius: float, rng: np.random.Generator) -> np.ndarray:
    """An irregular ellipse of about `radius` (pixels) around `center`: its signed closeness (≤ 1 inside)."""
    rows, cols = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    angle, elongation = rng.uniform(0, np.pi), rng.uniform(1.0, 2.2)
    du, dv = rows - center[0], cols - center[1]
    along = du * np.cos(angle) + dv * np.sin(angle)
    across = -du * np.sin(angle) + dv * np.cos(angle)
    distance = np.sqrt((along / np.sqrt(elongation)) ** 2 + (across * np.sqrt(elongation)) ** 2)
    return distance / max(radius, 0.5) + 0.3 * smooth_field(rng, shape, max(radius / 2, 1.5))


def _brighten(image: np.ndarray, region: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """`region` raised towards `level` × the slice's brightest tissue, with partial-volume edges."""
    edge = np.clip(ndimage.gaussian_filter(region.astype(np.float32), 0.8), 0, 1)
    texture = level * (1 + 0.1 * smooth_field(rng, image.shape, 3.0))
    return np.maximum(image, image * (1 - edge) + texture * float(image.max()) * edge)


def _place(candidates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return candidates[rng.integers(len(candidates))]


def add_pathology(
    image: np.ndarray, white: np.ndarray, fluid: np.ndarray, rng: np.random.Generator, kind: str, pixels_128: float
) -> tuple[np.ndarray, np.ndarray]:
    """The slice with lesions of `kind` covering about `pixels_128` pixels at 128×128, and their mask."""
    native = pixels_128 * (max(image.shape) / NATIVE_SIZE) ** 2
    brain = ndimage.binary_erosion(image > 0.02, iterations=4)
    # the ventricles: fluid deep inside the brain (the sulci's fluid lies at its edge)
    ventricles = (fluid > 0.5) & ndimage.binary_erosion(brain, iterations=14)
    if kind == "tumour":
        radius = np.sqrt(native / np.pi)
        closeness = _blob(image.shape, _place(np.argwhere(brain), rng), radius, rng)
        whole = (closeness <= 1.0) & brain
        core = (closeness <= rng.uniform(0.45, 0.7)) & brain
        image = _brighten(image, whole, rng.uniform(0.6, 0.75), rng)  # oedema
        image = _brighten(image, core, rng.uniform(0.9, 1.1), rng)
        return image.astype(np.float32), whole
    if kind == "ms":
        count = int(rng.integers(2, 9))
        lesion = np.zeros(image.shape, bool)
        deep = np.argwhere(brain & (white > 0.6))
        near = np.argwhere(brain & (white > 0.5) & ndimage.binary_dilation(ventricles, iterations=8))
        for _ in range(count):
            where = near if len(near) and rng.random() < 0.7 else deep
            radius = np.sqrt(native / count / np.pi) * rng.uniform(0.7, 1.3)
            lesion |= (
                _blob(image.shape, _place(where if len(where) else np.argwhere(brain), rng), radius, rng) <= 1
            ) & brain
        return _brighten(image, lesion, rng.uniform(0.8, 1.0), rng).astype(np.float32), lesion
    width = max(2.0, np.sqrt(native) / 6) * rng.uniform(0.8, 1.2)  # caps and bands hug the ventricles
    shell = (ndimage.distance_transform_edt(~ventricles) <= width) & ~ventricles & brain
    reach = _blob(
        image.shape, _place(np.argwhere(shell) if shell.any() else np.argwhere(brain), rng), np.sqrt(native), rng
    )
    lesion = shell & (reach <= 1.6) if shell.any() else (reach <= 1) & brain
    return _brighten(image, lesion, rng.uniform(0.7, 0.9), rng).astype(np.float32), lesion


def _write_split(
    root: Path, template: T2Template, config: T2PhantomConfig, split: str, count: int, progress: Progress
) -> None:
    split_index = list(SPLITS).index(split)
    anomalous = SPLITS[split].masks is not None
    images, masks = [], []
    task = progress.add_task(f"generating brain-phantom-t2: {split} split", total=count)
    for index in range(count):
        rng = np.random.default_rng([config.seed, split_index, index, 2])  # 2: not the T1 phantom's draws
        image, white, fluid = _healthy_slice(template, rng)
        stem = f"sub-T2{split_index}{index + 1:04d}"
        if anomalous:
            low, high = LESION_PIXEL_RANGES[config.pathology][index % 3]
            target = float(np.exp(rng.uniform(np.log(low), np.log(high))))
            image, lesion = add_pathology(image, white, fluid, rng, config.pathology, target)
            mask_name = f"{config.pathology}/png_mask/{stem}_T2w_lesion.png"
            write_png(root / mask_name, prepare_mask(lesion, NATIVE_SIZE).astype(np.float32))
            masks.append(mask_name)
            image_name = f"{config.pathology}/png/{stem}_T2w.png"
        else:
            image_name = f"healthy/png/{stem}_T2w.png"
        write_png(root / image_name, prepare_slice(image, NATIVE_SIZE))
        images.append(image_name)
        progress.advance(task)
    write_filename_csv(root / SPLITS[split].images, images)
    if anomalous:
        write_filename_csv(root / SPLITS[split].masks, masks)  # type: ignore[operator]


def generate(config: T2PhantomConfig, root: Path) -> Path:
    """Write the phantom to `root` (replacing it) and return it. Deterministic given `config`."""
    template = load_t2_template()
    return generate_splits(
        root,
        f"anobench brain-phantom-t2 v{GENERATOR_VERSION}",
        config,
        lambda staging, split, count, progress: _write_split(staging, template, config, split, count, progress),
    )


def open_dataset(options: Mapping[str, str], context: DatasetContext) -> PngSliceDataset:
    config = build_config(T2PhantomConfig, options)
    root = ensure_generated(phantom_dir(config), generate, config)
    return PngSliceDataset(root, SPLITS, context.image_size, EVALUATION, {"phantom": to_plain(config)})
