"""brain-phantom-volumes: synthetic subjects as slabs of axial slices with 3-D stroke-like lesions,
made from the MNI152 template as `brain-phantom` is, for the volume protocol on every machine.

A subject is `slices` consecutive axial slices around the template's middle (the 2-D phantom's
training slices come from the same range), all deformed by one affine and elastic deformation and
one intensity gamma and bias field, with their own noise. A test subject carries one lesion in 3-D:
an irregular T1-hypointense ellipsoid inside the brain spanning several slices, of a size drawn
so that small, medium and large lesions all occur. Each slice is prepared as the 2-D phantom's
(98th-percentile scaling, square padding, 128×128, 8-bit) and written, per subject, as uncompressed
NIfTI volumes of 128×128×slices in a BIDS-like tree: the image, the lesion mask and the brain mask
(nilearn's MNI152 brain mask, deformed with the subject):

    sub-V<split><n>/anat/sub-V<split><n>_T1w.nii
    sub-V<split><n>/anat/sub-V<split><n>_label-L_desc-T1lesion_mask.nii    (test subjects)
    sub-V<split><n>/anat/sub-V<split><n>_desc-brain_mask.nii
    splits/<split>.csv                                                     (column `filename`: the T1w)

Splits: `val` and `test-healthy` (healthy subjects: thresholds are calibrated on the first, their
false positives measured on the second) and `test`. Its denoisers are `brain-phantom`'s (trained on
its 2-D slices): the data set has no training split of its own. Generated on first use into the
cache, a pure function of its settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import nibabel
import numpy as np
from rich.progress import Progress
from scipy import ndimage

from anobench.api import Case, DatasetContext, Evaluation
from anobench.config import bounded, build_config, to_plain
from anobench.datasets.brain_phantom import MID_AXIAL_SLICE, TEMPLATE_NAME, Template, deformation, smooth_field
from anobench.datasets.brain_phantom import load_template as load_t1_template
from anobench.datasets.generated import ensure_generated, publish, staging_folder
from anobench.datasets.nifti import axial_slice, canonical_array
from anobench.datasets.png_slices import read_filename_csv, write_filename_csv
from anobench.errors import AnobenchError
from anobench.hashing import sha256_file
from anobench.imaging import NATIVE_SIZE, prepare_mask, prepare_slice, resize_image, resize_mask
from anobench.paths import cache_root

GENERATOR_VERSION = 1
SPLITS = ("val", "test-healthy", "test")
EVALUATION = Evaluation(
    "pixel",
    healthy_split="val",
    validation_split="val",
    training_split="brain-phantom:train",
    healthy_test_split="test-healthy",
    volumes=True,
    lesion_contrast="dark",
    modality="t1",
)
# lesion volumes drawn per size class, in voxels of the native 1 mm grid
LESION_VOXELS = ((300.0, 2000.0), (2000.0, 12000.0), (12000.0, 40000.0))


@dataclass(frozen=True)
class VolumePhantomConfig:
    seed: int = 0  # the generator's seed
    n_val: int = bounded(4, 1)  # healthy validation subjects
    n_test_healthy: int = bounded(4, 1)  # held-out healthy subjects
    n_test: int = bounded(12, 1)  # test subjects with a lesion
    slices: int = bounded(16, 1, 16)  # per subject, within the 2-D phantom's range of axial slices


@dataclass(frozen=True)
class _Templates:
    t1: Template
    brain_mask: np.ndarray  # nilearn's MNI152 brain mask on the template's grid


def phantom_dir(config: VolumePhantomConfig) -> Path:
    counts = f"{config.n_val}-{config.n_test_healthy}-{config.n_test}-z{config.slices}"
    return cache_root() / "brain-phantom-volumes" / f"v{GENERATOR_VERSION}-seed{config.seed}-n{counts}"


def _templates() -> _Templates:
    from nilearn import datasets as nilearn_datasets

    mask = canonical_array(nilearn_datasets.load_mni152_brain_mask(resolution=1))[0] > 0.5
    return _Templates(load_t1_template(), mask)


def _subject_name(split: str, index: int) -> str:
    return f"sub-V{SPLITS.index(split)}{index + 1:03d}"


def _files(subject: str) -> tuple[str, str, str]:
    anat = f"{subject}/anat/{subject}"
    return f"{anat}_T1w.nii", f"{anat}_label-L_desc-T1lesion_mask.nii", f"{anat}_desc-brain_mask.nii"


def _lesion(brain: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One irregular 3-D lesion inside `brain` (Z × H × W tissue probability) of a drawn size class."""
    low, high = LESION_VOXELS[int(rng.integers(len(LESION_VOXELS)))]
    volume = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    inside = brain > 0.5
    eroded = ndimage.binary_erosion(inside, iterations=2)
    candidates = np.argwhere(eroded if eroded.any() else inside)
    candidates = candidates[np.abs(candidates[:, 0] - brain.shape[0] / 2) <= max(brain.shape[0] / 4, 1)]
    centre = candidates[rng.integers(len(candidates))]
    axes = rng.uniform(0.7, 1.4, size=3) * [0.6, 1.0, 1.0]  # flatter across slices, as strokes often are
    radius = (volume / (4 / 3 * np.pi * float(np.prod(axes)))) ** (1 / 3)
    grid = np.indices(brain.shape, dtype=np.float64) - centre[:, None, None, None]
    distance = np.sqrt(sum((grid[k] / (radius * axes[k])) ** 2 for k in range(3)))
    wobble = ndimage.gaussian_filter(rng.standard_normal(brain.shape), max(radius / 2, 1.0))
    wobble *= 0.35 / max(float(np.abs(wobble).max()), 1e-8)
    return (distance + wobble <= 1.0) & (brain > 0.3)


def _subject(templates: _Templates, config: VolumePhantomConfig, split: str, index: int) -> dict[str, np.ndarray]:
    """A subject's prepared volumes (128×128×slices): the image, lesion mask and brain mask."""
    rng = np.random.default_rng([config.seed, 1000 + SPLITS.index(split), index])
    first = MID_AXIAL_SLICE - config.slices // 2
    planes = range(first, first + config.slices)
    coords = None

    def warped(volume: np.ndarray) -> np.ndarray:  # the subject's slab, every slice deformed alike
        slices = [axial_slice(volume, z, TEMPLATE_NAME) for z in planes]
        return np.stack([ndimage.map_coordinates(s, coords, order=1, mode="constant") for s in slices])

    coords = deformation(rng, axial_slice(templates.t1.t1, first, TEMPLATE_NAME).shape)
    t1, tissue = warped(templates.t1.t1), warped(templates.t1.brain)
    mask = warped(templates.brain_mask.astype(np.float32)) >= 0.5
    gamma = rng.uniform(0.85, 1.2)
    bias = np.exp(rng.uniform(0.05, 0.15) * smooth_field(rng, t1.shape[1:], 40.0))
    noise_level = rng.uniform(0.005, 0.02)
    lesion = _lesion(tissue, rng) if split == "test" else np.zeros(t1.shape, bool)
    edge = np.clip(ndimage.gaussian_filter(lesion.astype(np.float32), (0.5, 1.0, 1.0)), 0, 1)
    core = rng.uniform(0.12, 0.4)
    images, lesions, brains = [], [], []
    for z in range(config.slices):
        image = np.clip(t1[z], 0, 1) ** gamma
        head = ndimage.binary_dilation(image > 0.02, iterations=2)
        image = np.clip(image * bias + noise_level * rng.standard_normal(image.shape) * head, 0, None) * head
        image = image * (1 - edge[z]) + (core * float(image.max())) * edge[z]
        images.append(np.round(prepare_slice(image, NATIVE_SIZE) * 255).astype(np.uint8))
        lesions.append(prepare_mask(lesion[z], NATIVE_SIZE).astype(np.uint8))
        brains.append(prepare_mask(mask[z], NATIVE_SIZE).astype(np.uint8))
    kinds = ("image", "lesion", "brain")
    return {name: np.stack(values, axis=-1) for name, values in zip(kinds, (images, lesions, brains))}


def generate(config: VolumePhantomConfig, root: Path) -> Path:
    """Write the phantom to `root` (replacing it) and return it. Deterministic given `config`."""
    staging = staging_folder(root)
    templates = _templates()
    counts = {"val": config.n_val, "test-healthy": config.n_test_healthy, "test": config.n_test}
    with Progress(transient=True) as progress:
        for split, count in counts.items():
            task = progress.add_task(f"generating brain-phantom-volumes: {split} split", total=count)
            listed = []
            for index in range(count):
                subject = _subject_name(split, index)
                volumes = _subject(templates, config, split, index)
                for name, kind in zip(_files(subject), ("image", "lesion", "brain")):
                    if kind == "lesion" and split != "test":
                        continue
                    (staging / name).parent.mkdir(parents=True, exist_ok=True)
                    nibabel.save(nibabel.Nifti1Image(volumes[kind], np.eye(4)), staging / name)
                listed.append(_files(subject)[0])
                progress.advance(task)
            write_filename_csv(staging / "splits" / f"{split}.csv", listed)
    return publish(staging, root, f"anobench brain-phantom-volumes v{GENERATOR_VERSION}", to_plain(config))


def ensure(config: VolumePhantomConfig) -> Path:
    return ensure_generated(phantom_dir(config), generate, config)


@lru_cache(maxsize=2)  # slices are read in order: the subject at hand stays open
def _read(path: Path) -> np.ndarray:
    image = nibabel.load(path)
    return np.asarray(image.get_fdata(dtype=np.float32))  # type: ignore[attr-defined]  # a NIfTI image


class VolumePhantom:
    splits = SPLITS
    evaluation = EVALUATION

    def __init__(self, root: Path, config: VolumePhantomConfig, image_size: int) -> None:
        self.root, self.config, self.image_size = root, config, image_size
        self._listed: dict[str, list[str]] = {}

    def _subjects(self, split: str) -> list[str]:
        if split not in SPLITS:
            raise AnobenchError(f"unknown split {split!r} of brain-phantom-volumes; available: {', '.join(SPLITS)}")
        if split not in self._listed:
            listed = read_filename_csv(self.root / "splits" / f"{split}.csv")
            self._listed[split] = [Path(name).name.removesuffix("_T1w.nii") for name in listed]
        return self._listed[split]

    def case_ids(self, split: str) -> list[str]:
        return [f"{subject}_z{z:02d}" for subject in self._subjects(split) for z in range(self.config.slices)]

    def load_case(self, split: str, case_id: str) -> Case:
        subject, _, z_text = case_id.rpartition("_z")
        z = int(z_text) if z_text.isdigit() else -1
        if not 0 <= z < self.config.slices or subject not in self._subjects(split):
            raise AnobenchError(f"brain-phantom-volumes split {split!r} has no case {case_id!r}")
        image_file, lesion_file, brain_file = (self.root / name for name in _files(subject))
        image = resize_image(_read(image_file)[..., z] / 255.0, self.image_size)
        lesion = resize_mask(_read(lesion_file)[..., z] > 0, self.image_size) if split == "test" else None
        brain = resize_mask(_read(brain_file)[..., z] > 0, self.image_size)
        return Case(case_id, np.clip(image, 0, 1), lesion, subject, slice_index=z, brain_mask=brain)

    def manifest(self) -> dict[str, Any]:
        files = sorted(p for p in self.root.rglob("*") if p.is_file() and p.name != "manifest.json")
        return {
            "files": {str(p.relative_to(self.root)): sha256_file(p) for p in files},
            "settings": {"phantom": to_plain(self.config), "image_size": self.image_size},
        }

    def settings(self) -> dict[str, Any]:
        return {"phantom": to_plain(self.config), "image_size": self.image_size}


def open_dataset(options: Mapping[str, str], context: DatasetContext) -> VolumePhantom:
    config = build_config(VolumePhantomConfig, options)
    return VolumePhantom(ensure(config), config, context.image_size)
