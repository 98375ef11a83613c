"""The THOR work's released wrist split lists, on a small fabricated copy of that layout."""

import csv

import numpy as np
import pytest
from conftest import FAST_THOR_WORDS
from PIL import Image

from anobench.api import DatasetContext, load_cases, manifest_hash
from anobench.datasets import wrist
from anobench.datasets.wrist_released import class_lists
from anobench.errors import AnobenchError
from anobench.imaging import NATIVE_SIZE, prepare_mask, resize_mask
from anobench.store.results import read_results

HEIGHT, WIDTH = 30, 40
STEMS = {"fractured": "0101_0001_01_WRI-L1_M010", "healthy": "0202_0002_01_WRI-R1_F008"}


def write_png(path, array, dtype):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array.astype(dtype)).save(path)


def write_list(path, names):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filenames"])
        writer.writerows([name] for name in names)


def write_released_tree(repository, extra_healthy=0):
    """A copy of the THOR repository's data/wrist: one image with two fracture boxes and a metal box."""
    data = repository / "data" / "wrist"
    fractured, healthy = STEMS["fractured"], STEMS["healthy"]
    image = np.full((HEIGHT, WIDTH), 20000)
    image[12:18, 15:25] = 60000
    write_png(data / "pediatric" / f"{fractured}.png", image, np.uint16)
    healthy_stems = [healthy] + [f"{9000 + i}_0003_01_WRI-L1_M009" for i in range(extra_healthy)]
    for stem in healthy_stems:
        write_png(data / "pediatric" / f"{stem}.png", np.full((HEIGHT, WIDTH), 30000), np.uint16)
    boxes = {"fracture": [(12, 15, 18, 25), (2, 2, 6, 8)], "metal": [(20, 30, 28, 38)]}
    negative = np.full((HEIGHT, WIDTH), 255)
    for label, rectangles in boxes.items():
        for k, (top, left, bottom, right) in enumerate(rectangles):
            mask = np.zeros((HEIGHT, WIDTH))
            mask[top:bottom, left:right] = 255
            negative[top:bottom, left:right] = 0
            write_png(data / "masks" / label / f"{fractured}_{label}_{k}.png", mask, np.uint8)
    negative[0:4, 30:40] = 0  # a text label: neither box nor negative region
    write_png(data / "masks" / "neg" / f"{fractured}_neg.png", negative, np.uint8)
    splits = data / "splits"
    for label in wrist.EVALUATED_CLASSES:
        count = len(boxes.get(label, []))
        images, annotations, negatives = (splits / name for name in class_lists(label))
        write_list(images, [f"./data/wrist/pediatric/{fractured}.png"] * count)
        write_list(annotations, [f"./data/wrist/masks/{label}/{fractured}_{label}_{k}.png" for k in range(count)])
        write_list(negatives, [f"./data/wrist/masks/neg/{fractured}_neg.png"] * count)
    for name in ("train_normal", "val_normal", "test_normal"):
        write_list(splits / f"{name}.csv", [f"./data/wrist/pediatric/{stem}.png" for stem in healthy_stems])
    return data, negative


def open_released(root, size=64, **options):
    return wrist.open_dataset({"layout": "released", **options}, DatasetContext(size, root))


def test_boxes_negative_region_and_patient_come_from_the_lists(tmp_path):
    data, negative = write_released_tree(tmp_path)
    (case,) = load_cases(open_released(data), "test")
    assert case.case_id == STEMS["fractured"] and case.subject_id == "0101"
    assert [box.label for box in case.boxes] == ["fracture", "fracture", "metal"]
    # 40 wide: 5 rows of padding on top, 64 / 40 = 1.6 (the same box as the YOLO test's)
    assert (case.boxes[0].top, case.boxes[0].left, case.boxes[0].bottom, case.boxes[0].right) == (27, 24, 37, 40)
    expected = resize_mask(prepare_mask(negative > 127, NATIVE_SIZE), 64)
    np.testing.assert_array_equal(case.negative_region, expected)
    assert not (case.negative_region & case.boxes[0].mask((64, 64))).any()
    bright = case.image > 0.99
    assert bright.any() and not (bright & ~case.boxes[0].mask((64, 64))).any()


def test_normal_lists_are_the_healthy_splits_and_the_repository_root_works_too(tmp_path):
    write_released_tree(tmp_path, extra_healthy=2)
    dataset = open_released(tmp_path)  # data/wrist/splits below the repository copy
    assert [len(load_cases(dataset, split)) for split in ("train", "val", "test-healthy", "test")] == [3, 3, 3, 1]
    assert dataset.settings()["layout"] == "released"
    assert all(case.boxes == () and case.negative_region is None for case in load_cases(dataset, "train"))


def test_the_layout_is_chosen_never_guessed_and_released_lists_must_exist(tmp_path):
    data, _ = write_released_tree(tmp_path)
    with pytest.raises(AnobenchError, match="dataset.csv does not exist"):  # the default reads the YOLO release
        wrist.open_dataset({}, DatasetContext(64, data))
    (tmp_path / "empty").mkdir()
    with pytest.raises(AnobenchError, match="no splits/train_normal.csv"):
        open_released(tmp_path / "empty")
    with pytest.raises(AnobenchError, match="layout=.coco.*layout must be one of yolo, released"):
        open_released(data, layout="coco")


def test_manifest_covers_the_masks(tmp_path):
    data, _ = write_released_tree(tmp_path)
    before = manifest_hash(open_released(data))
    write_png(data / "masks" / "metal" / f"{STEMS['fractured']}_metal_0.png", np.zeros((HEIGHT, WIDTH)), np.uint8)
    assert manifest_hash(open_released(data)) != before


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: write_list(d / "splits" / "metal_neg.csv", []), "are not row-aligned"),
        (
            lambda d: (d / "masks" / "neg" / f"{STEMS['fractured']}_neg.png").unlink(),
            "_neg.png' listed in a split CSV does not exist",
        ),
        (lambda d: (d / "splits" / "softtissue_ann.csv").unlink(), "softtissue_ann.csv does not exist"),
        (
            lambda d: write_png(
                d / "masks" / "metal" / f"{STEMS['fractured']}_metal_0.png", np.zeros((HEIGHT, WIDTH)), np.uint8
            ),
            "box mask .*_metal_0.png is empty",
        ),
        (
            lambda d: write_png(
                d / "masks" / "metal" / f"{STEMS['fractured']}_metal_0.png", np.ones((10, 10)) * 255, np.uint8
            ),
            r"box mask .* has shape \(10, 10\), its image \(30, 40\)",
        ),
    ],
)
def test_bad_lists_and_masks_are_one_clear_error(tmp_path, damage, message):
    data, _ = write_released_tree(tmp_path)
    damage(data)
    with pytest.raises(AnobenchError, match=message):
        load_cases(open_released(data), "test")


def test_thor_and_the_table2_board_run_on_the_released_lists(cli, tmp_path, denoiser_checkpoint):
    data, _ = write_released_tree(tmp_path)
    out = tmp_path / "run"
    result = cli(
        "run",
        "--method",
        "thor",
        "--dataset",
        "wrist",
        "--data-root",
        str(data),
        "--data",
        "layout=released",
        "--checkpoint",
        str(denoiser_checkpoint),
        "--out",
        str(out),
        "--healthy-split",
        "auto",
        *FAST_THOR_WORDS,
    )
    assert result.returncode == 0, result.stderr
    assert read_results(out).negative_regions.shape == (1, 64, 64)
    board = cli("compare", str(out), "--layout", "table2", "--out-dir", str(tmp_path / "boards"))
    assert board.returncode == 0, board.stderr
    text = (tmp_path / "boards" / "wrist.md").read_text()
    assert "reported (real GRAZPEDWRI-DX)" in text and "| thor " in text
