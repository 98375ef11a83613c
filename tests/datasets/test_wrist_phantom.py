"""The wrist phantom: GRAZPEDWRI-DX layout, read back by the `wrist` adapter; end to end to Table 2."""

import numpy as np
from conftest import FAST_THOR_WORDS

from anobench.api import DatasetContext, load_cases
from anobench.datasets import wrist_phantom

SMALL = {"n_train": "4", "n_val": "2", "n_test_healthy": "2", "n_test": "5"}


def open_small(size=64):
    return wrist_phantom.open_dataset(SMALL, DatasetContext(size))


def test_phantom_has_every_finding_once_with_a_box_on_it():
    dataset = open_small()
    sizes = dataset.settings()["split_sizes"]
    assert sizes == {"train": 4, "val": 2, "test-healthy": 2, "test": 5}
    test = load_cases(dataset, "test")
    assert sorted(box.label for case in test for box in case.boxes) == sorted(wrist_phantom.FINDINGS)
    for case in test:
        (box,) = case.boxes
        assert 0 <= box.top < box.bottom <= 64 and 0 <= box.left < box.right <= 64
    assert all(not case.boxes for split in ("train", "val", "test-healthy") for case in load_cases(dataset, split))


def test_generation_is_deterministic_and_in_the_release_layout(tmp_path):
    config = wrist_phantom.WristPhantomConfig(n_train=2, n_val=0, n_test_healthy=0, n_test=2)
    first = wrist_phantom.generate(config, tmp_path / "a")
    second = wrist_phantom.generate(config, tmp_path / "b")
    assert (first / "manifest.json").read_text() == (second / "manifest.json").read_text()
    assert (first / "dataset.csv").is_file() and list((first / "folder_structure" / "yolov5" / "labels").glob("*.txt"))
    from PIL import Image

    with Image.open(next((first / "images_part1").glob("*.png"))) as image:
        assert image.size == (wrist_phantom.WIDTH, wrist_phantom.HEIGHT) and np.asarray(image).dtype == np.uint16


def test_thor_on_the_wrist_phantom_into_the_table2_layout(cli, tmp_path, denoiser_checkpoint):
    data = [word for key, value in SMALL.items() for word in ("--data", f"{key}={value}")]
    out = tmp_path / "thor"
    result = cli(
        "run",
        "--method",
        "thor",
        "--dataset",
        "wrist-phantom",
        "--checkpoint",
        str(denoiser_checkpoint),
        "--out",
        str(out),
        "--healthy-split",
        "test-healthy",
        *data,
        *FAST_THOR_WORDS,
    )
    assert result.returncode == 0, result.stderr
    assert (out / "boxes.parquet").is_file() and (out / "healthy" / "arrays" / "index.json").is_file()
    board = cli("compare", str(out), "--layout", "table2", "--out-dir", str(tmp_path / "boards"), "--name", "t2")
    assert board.returncode == 0, board.stderr
    markdown = (tmp_path / "boards" / "t2.md").read_text()
    assert "thor (reference, ssim)" in markdown and "anobench, wrist-phantom" in markdown
    assert "reported (real GRAZPEDWRI-DX)" in markdown and "R@1FP" in markdown
