import json

import numpy as np
import pytest

from anobench import registry
from anobench.api import DatasetContext, load_cases, manifest_hash
from anobench.datasets import brain_phantom
from anobench.datasets.png_slices import read_filename_csv, read_png
from anobench.store.rows import size_bin

SMALL = {"n_train": "6", "n_val": "2", "n_test_healthy": "2", "n_test": "12"}


@pytest.fixture(scope="module")
def phantom():
    return registry.datasets.get("brain-phantom").open(SMALL, DatasetContext(image_size=128))


def test_written_in_the_released_png_csv_layout(phantom):
    root = phantom.root
    assert read_filename_csv(root / "ATLAS/splits/atlas_train_png.csv")[0].startswith("ATLAS/png/sub-r")
    masks = read_filename_csv(root / "ATLAS/splits/atlas_train_mask_png.csv")
    assert masks[0].endswith("_label-L_desc-T1lesion_mask.png")
    assert len(read_filename_csv(root / "CAPS_IXI/splits/ixi-t1_train_2D.csv")) == 6
    mask = read_png(root / masks[0])
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert json.loads((root / "manifest.json").read_text())["config"]["n_test"] == 12


def test_splits_and_cases(phantom):
    assert phantom.splits == ("train", "val", "test-healthy", "test")
    assert all(case.mask is None for case in load_cases(phantom, "train"))
    cases = load_cases(phantom, "test")
    assert len(cases) == 12
    for case in cases:
        assert case.image.shape == (128, 128) and case.image.dtype == np.float32
        assert 0 <= case.image.min() and case.image.max() <= 1
        assert case.mask.dtype == bool and case.mask.any()
        assert case.subject_id.startswith("sub-r")
        # the lesion is darker than the tissue around it (T1-hypointense stroke)
        ring = np.logical_xor(np.pad(case.mask, 3)[3:-3, 3:-3], case.mask)
        assert not ring.any() or case.image[case.mask].mean() < case.image[ring].mean()


def test_lesion_sizes_cover_every_bin(phantom):
    bins = {size_bin(int(case.mask.sum()), 128, 128) for case in load_cases(phantom, "test")}
    assert {"small", "medium", "large"} <= bins


def test_deterministic_by_seed(tmp_path, monkeypatch, phantom):
    monkeypatch.setenv("ANOBENCH_CACHE", str(tmp_path))
    again = registry.datasets.get("brain-phantom").open(SMALL, DatasetContext(image_size=128))
    assert again.root != phantom.root
    assert manifest_hash(again) == manifest_hash(phantom)
    other = registry.datasets.get("brain-phantom").open({**SMALL, "seed": "1"}, DatasetContext(image_size=128))
    assert manifest_hash(other) != manifest_hash(phantom)


def test_resized_for_the_preset(phantom):
    small = registry.datasets.get("brain-phantom").open(SMALL, DatasetContext(image_size=64))
    for big, little in zip(load_cases(phantom, "test"), load_cases(small, "test")):
        assert little.image.shape == (64, 64)
        assert little.mask.sum() == pytest.approx(big.mask.sum() / 4, rel=0.5, abs=3)


def test_regenerate_replaces_the_cache(phantom):
    config = brain_phantom.PhantomConfig(**{key: int(value) for key, value in SMALL.items()})
    before = manifest_hash(phantom)
    brain_phantom.generate(config, brain_phantom.phantom_dir(config))
    assert manifest_hash(registry.datasets.get("brain-phantom").open(SMALL, DatasetContext(image_size=128))) == before
