import hashlib

import numpy as np
import pytest

from anobench.api import Evaluation, load_cases, manifest_hash
from anobench.datasets.png_slices import PngSliceDataset, SplitFiles, write_filename_csv, write_png
from anobench.errors import AnobenchError


def released_layout(root, count=3, masks=None):
    """The THOR repository's layout: paths in the CSVs start with ./data/ (the root's name)."""
    images = []
    for index in range(count):
        name = f"ATLAS/png/sub-r001s{index:03d}_T1w.png"
        write_png(root / name, np.full((16, 16), 0.5))
        images.append(f"./data/{name}")
    write_filename_csv(root / "ATLAS/splits/atlas_train_png.csv", images)
    mask_names = []
    for index in range(masks if masks is not None else count):
        name = f"ATLAS/png_mask/sub-r001s{index:03d}_mask.png"
        mask = np.zeros((16, 16))
        mask[4:8, 4:8] = 1
        write_png(root / name, mask)
        mask_names.append(f"./data/{name}")
    write_filename_csv(root / "ATLAS/splits/atlas_train_mask_png.csv", mask_names)
    return PngSliceDataset(
        root,
        {"test": SplitFiles("ATLAS/splits/atlas_train_png.csv", "ATLAS/splits/atlas_train_mask_png.csv")},
        8,
        Evaluation("pixel"),
    )


def test_reads_the_released_layout(tmp_path):
    dataset = released_layout(tmp_path / "data")
    cases = load_cases(dataset, "test")
    assert [case.subject_id for case in cases] == ["sub-r001s000", "sub-r001s001", "sub-r001s002"]
    assert cases[0].image.shape == (8, 8)
    np.testing.assert_allclose(cases[0].image, 128 / 255, atol=1e-6)
    assert cases[0].mask.sum() == 4  # the 4×4 square at half size
    # the manifest lists every file read with its own sha256, and its hash follows any file's bytes
    root = tmp_path / "data"
    read = sorted(path for path in root.rglob("*") if path.is_file())
    expected = {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest() for path in read}
    assert dataset.manifest()["files"] == expected
    before = manifest_hash(dataset)
    write_png(root / "ATLAS/png/sub-r001s001_T1w.png", np.full((16, 16), 0.25))
    assert manifest_hash(dataset) != before


def test_mask_list_of_another_length_is_an_error(tmp_path):
    with pytest.raises(AnobenchError, match="lists 3 images but .* lists 2 masks"):
        load_cases(released_layout(tmp_path / "data", masks=2), "test")


def test_missing_listed_file_is_named(tmp_path):
    dataset = released_layout(tmp_path / "data")
    (tmp_path / "data/ATLAS/png/sub-r001s001_T1w.png").unlink()
    with pytest.raises(AnobenchError, match="sub-r001s001_T1w.png.*does not exist"):
        load_cases(dataset, "test")


def test_unknown_split(tmp_path):
    with pytest.raises(AnobenchError, match="unknown split 'val'; available: test"):
        load_cases(released_layout(tmp_path / "data"), "val")


def test_cases_are_listed_without_decoding_and_loaded_one_at_a_time(tmp_path, monkeypatch):
    from anobench.datasets import png_slices

    dataset = released_layout(tmp_path / "data")
    decoded = []
    original = png_slices.read_png
    monkeypatch.setattr(png_slices, "read_png", lambda path: decoded.append(path.name) or original(path))
    assert dataset.case_ids("test") == ["sub-r001s000_T1w", "sub-r001s001_T1w", "sub-r001s002_T1w"]
    assert decoded == []
    case = dataset.load_case("test", "sub-r001s001_T1w")
    assert case.case_id == "sub-r001s001_T1w" and decoded == ["sub-r001s001_T1w.png", "sub-r001s001_mask.png"]
