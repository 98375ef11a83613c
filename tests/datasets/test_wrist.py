"""The GRAZPEDWRI-DX adapter on a small fabricated tree in the release's layout."""

import csv

import numpy as np
import pytest
from conftest import FAST_THOR_WORDS
from PIL import Image

from anobench.api import DatasetContext, load_cases
from anobench.datasets import wrist
from anobench.errors import AnobenchError

HEIGHT, WIDTH = 30, 40  # radiographs are not square


def write_image(path, array16):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array16.astype(np.uint16)).save(path)


def write_tree(root, images):
    """images: {stem: (patient, [label lines])}."""
    rows = []
    for index, (stem, (patient, lines)) in enumerate(images.items()):
        array = np.full((HEIGHT, WIDTH), 20000 + 100 * index)
        array[12:18, 15:25] = 60000  # a bright rectangle where the fracture box of "a" is
        write_image(root / f"images_part{1 + index % 2}" / f"{stem}.png", array)
        labels = root / "folder_structure" / "yolov5" / "labels" / f"{stem}.txt"
        labels.parent.mkdir(parents=True, exist_ok=True)
        labels.write_text("\n".join(lines) + "\n")
        rows.append({"filestem": stem, "patient_id": patient, "gender": "M", "age": "10"})
    with open(root / "dataset.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


FRACTURE = "3 0.5 0.5 0.25 0.2"  # x 15..25, y 12..18 of a 40×30 image
TEXT = "8 0.1 0.1 0.1 0.1"


def open_wrist(root, size=64):
    return wrist.open_dataset({}, DatasetContext(size, root))


def test_boxes_follow_the_padding_and_resizing_and_cover_the_finding(tmp_path):
    write_tree(tmp_path, {"a": ("p1", [FRACTURE, TEXT])})
    (case,) = load_cases(open_wrist(tmp_path), "test")
    (box,) = case.boxes  # the text box is not an evaluated class
    # 40 wide: 5 rows of padding on top; 64 / 40 = 1.6
    assert (box.top, box.left, box.bottom, box.right, box.label) == (27, 24, 37, 40, "fracture")
    bright = case.image > 0.99
    assert bright.any() and not (bright & ~box.mask((64, 64))).any()
    assert case.image.shape == (64, 64) and case.subject_id == "p1" and case.mask is None


def test_splits_are_by_patient_and_findings_go_to_test(tmp_path):
    images = {"abnormal": ("p0", [FRACTURE]), "same-patient": ("p0", [TEXT])}
    images.update({f"h{i}": (f"q{i}", [TEXT]) for i in range(30)})
    write_tree(tmp_path, images)
    dataset = open_wrist(tmp_path)
    split_of = {case.case_id: split for split in wrist.SPLITS for case in load_cases(dataset, split)}
    assert split_of["abnormal"] == "test" and split_of["same-patient"] == "test-healthy"
    sizes = dataset.settings()["split_sizes"]
    assert sizes["test"] == 1 and sizes["train"] == round(30 * 1600 / 2840) and sizes["val"] == round(30 * 201 / 2840)
    patients = {split: {c.subject_id for c in load_cases(dataset, split)} for split in wrist.SPLITS}
    assert not patients["train"] & (patients["test"] | patients["test-healthy"] | patients["val"])


@pytest.mark.parametrize(
    "line, message",
    [
        ("3 0.5 0.5 1.25 0.2", r"box \[0.5, 0.5, 1.25, 0.2\] is outside \[0, 1\]"),
        ("12 0.5 0.5 0.1 0.1", "unknown class id 12"),
        ("3 0.5 0.5", "a YOLO line has 5 fields"),
    ],
)
def test_bad_labels_are_one_clear_error(tmp_path, line, message):
    write_tree(tmp_path, {"a": ("p1", [line])})
    with pytest.raises(AnobenchError, match=message):
        load_cases(open_wrist(tmp_path), "test")


def test_missing_files_are_named(tmp_path):
    with pytest.raises(AnobenchError, match="dataset.csv does not exist; get it from GRAZPEDWRI-DX"):
        open_wrist(tmp_path)
    write_tree(tmp_path, {"a": ("p1", [FRACTURE]), "b": ("p2", [TEXT])})
    (tmp_path / "folder_structure" / "yolov5" / "labels" / "b.txt").unlink()
    with pytest.raises(AnobenchError, match="label file .*b.txt does not exist"):
        open_wrist(tmp_path)
    (tmp_path / "images_part2" / "b.png").unlink()
    with pytest.raises(AnobenchError, match="image b.png named in dataset.csv"):
        open_wrist(tmp_path)


def test_thor_runs_on_a_grazpedwri_tree(cli, tmp_path, denoiser_checkpoint):
    write_tree(tmp_path / "wrist", {"a": ("p1", [FRACTURE]), "b": ("p2", [TEXT])})
    out = tmp_path / "run"
    result = cli(
        "run",
        "--method",
        "thor",
        "--dataset",
        "wrist",
        "--data-root",
        str(tmp_path / "wrist"),
        "--checkpoint",
        str(denoiser_checkpoint),
        "--out",
        str(out),
        *FAST_THOR_WORDS,
    )
    assert result.returncode == 0, result.stderr
    assert "1 cases" in result.stdout
