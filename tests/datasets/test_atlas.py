"""The ATLAS adapter on small fabricated files in the real layouts (BIDS NIfTI; released PNG + CSV)."""

import gzip

import numpy as np
import pytest
from conftest import FAST_THOR_WORDS
from fabricated import ATLAS_SHAPE as SHAPE
from fabricated import brain_volume, write_nifti, write_scan

from anobench.api import DatasetContext, load_cases, manifest_hash
from anobench.datasets import atlas
from anobench.datasets.png_slices import write_filename_csv, write_png
from anobench.errors import AnobenchError


def open_atlas(root, size=64, **options):
    options.setdefault("exclude_artefacts", False)  # tests of the exclusion set it
    return atlas.open_dataset({k: str(v) for k, v in options.items()}, DatasetContext(size, root))


def test_slice_95_is_taken_and_the_mask_lands_where_it_should(tmp_path):
    volume = brain_volume()
    volume[8:12, 4:8, 95] = 5.0  # a bright block only in slice 95
    write_scan(tmp_path, "sub-r001s001", volume)
    (case,) = load_cases(open_atlas(tmp_path), "test")
    assert case.case_id == "sub-r001s001_ses-1" and case.subject_id == "sub-r001s001"
    assert case.image.shape == (64, 64) and case.mask.dtype == bool
    # rot90 puts x along columns and y (reversed) along rows; padding 24×20 → 24×24 adds 2 columns
    # on each side; 24 → 64 scales by 8/3
    rows, columns = np.nonzero(case.mask)
    assert abs(rows.mean() - 12 * 8 / 3) < 1 and abs(columns.mean() - 6 * 8 / 3) < 1
    bright_rows, bright_columns = np.nonzero(case.image > 0.99)
    assert abs(bright_rows.mean() - 18 * 8 / 3) < 1.5 and abs(bright_columns.mean() - 12 * 8 / 3) < 1.5
    assert set(np.unique(case.mask)) <= {False, True}


def test_another_slice_can_be_chosen(tmp_path):
    write_scan(tmp_path, "sub-r001s001")
    (case,) = load_cases(open_atlas(tmp_path, slice=40), "test")
    assert not case.mask.any()  # the lesion is only in slice 95


def test_slices_without_lesion_feed_training(tmp_path):
    write_scan(tmp_path, "sub-r001s001")
    write_scan(tmp_path, "sub-r001s002", mask=np.zeros(SHAPE, np.uint8))
    with pytest.warns(UserWarning, match="empty lesion masks"):
        dataset = open_atlas(tmp_path)
        healthy = load_cases(dataset, "train-healthy")
    assert [case.case_id for case in healthy] == ["sub-r001s002_ses-1"] and healthy[0].mask is None
    assert len(load_cases(dataset, "test")) == 2


def test_non_binary_masks_are_binarised_and_said_so(tmp_path):
    mask = np.zeros(SHAPE, np.float32)
    mask[2:6, 10:14, 95] = 255.0
    write_scan(tmp_path, "sub-r001s001", mask=mask)
    with pytest.warns(UserWarning, match="not binary .* binarised as mask > 0"):
        (case,) = load_cases(open_atlas(tmp_path), "test")
    assert case.mask.sum() > 0


def test_manifest_changes_with_any_file(tmp_path):
    image_path, _ = write_scan(tmp_path, "sub-r001s001")
    before = manifest_hash(open_atlas(tmp_path))
    volume = brain_volume()
    volume[0, 0, 0] = 0.9
    write_nifti(image_path, volume)
    assert manifest_hash(open_atlas(tmp_path)) != before


@pytest.mark.parametrize(
    "damage, message",
    [
        ("four_d", r"has shape \(20, 24, 189, 2\); a 3-D volume is expected"),
        ("corrupt", "corrupt or not NIfTI"),
        ("nan", "3 NaN or infinite voxels"),
        ("shape", r"has shape \(20, 24, 100\), image"),
        ("no_mask", "no labelled scan .*the 1 T1 scan.s. found have no lesion mask; get it from the ATLAS 2.0 release"),
    ],
)
def test_bad_files_are_one_clear_error(tmp_path, damage, message):
    image_path, mask_path = write_scan(tmp_path, "sub-r001s001")
    if damage == "four_d":
        write_nifti(image_path, np.zeros((*SHAPE, 2), np.float32))
    elif damage == "corrupt":
        image_path.write_bytes(gzip.compress(b"not a nifti header at all")[:20])
    elif damage == "nan":
        volume = brain_volume()
        volume[0, 0, :3] = np.nan
        write_nifti(image_path, volume)
    elif damage == "shape":
        write_nifti(mask_path, np.zeros((20, 24, 100), np.uint8))
    else:
        mask_path.unlink()
    with pytest.raises(AnobenchError, match=message):
        load_cases(open_atlas(tmp_path), "test")


def test_missing_data_names_the_option_the_variable_and_the_source(tmp_path, monkeypatch):
    monkeypatch.delenv("ANOBENCH_DATA", raising=False)
    with pytest.raises(
        AnobenchError, match="pass --data-root DIR, or --data-root atlas=DIR .* or set ANOBENCH_DATA.*ATLAS 2.0 release"
    ):
        atlas.open_dataset({}, DatasetContext(64))
    with pytest.raises(AnobenchError, match="does not exist"):
        open_atlas(tmp_path / "nowhere")
    with pytest.raises(AnobenchError, match="no labelled scan"):
        open_atlas(tmp_path)


def test_the_release_root_evaluates_the_labelled_scans_and_counts_the_withheld_ones(tmp_path):
    root = tmp_path / "ATLAS_2"
    write_scan(root, "sub-r001s001")
    write_scan(root, "sub-r001s002")
    testing = root / "Testing" / "R002" / "sub-r002s001" / "ses-1" / "anat"
    write_nifti(testing / "sub-r002s001_ses-1_space-MNI152NLin2009aSym_T1w.nii.gz", brain_volume())
    with pytest.warns(
        UserWarning,
        match=r"1 T1 scan\(s\) without a lesion mask skipped \(1 in Testing/, whose masks the release withholds\); "
        r"2 labelled",
    ):
        dataset = open_atlas(root)
    assert dataset.case_ids("test") == ["sub-r001s001_ses-1", "sub-r001s002_ses-1"]
    assert dataset.settings()["unlabelled_scans_skipped"] == 1
    assert all(not path.startswith("Testing") for path in dataset.manifest()["files"])


def test_only_unlabelled_scans_is_an_error_naming_them(tmp_path):
    testing = tmp_path / "ATLAS_2" / "Testing" / "R002" / "sub-r002s001" / "ses-1" / "anat"
    write_nifti(testing / "sub-r002s001_ses-1_space-MNI152NLin2009aSym_T1w.nii.gz", brain_volume())
    with pytest.raises(AnobenchError, match="no labelled scan .* the 1 T1 scan.s. found have no lesion mask"):
        open_atlas(tmp_path / "ATLAS_2")


def test_options_that_only_change_warnings_leave_the_manifest_alone(tmp_path):
    write_scan(tmp_path, "sub-r001s001")
    with pytest.warns(UserWarning, match="--data exclude_artefacts=false silences this"):
        warned = manifest_hash(open_atlas(tmp_path, exclude_artefacts=True))
    assert warned == manifest_hash(open_atlas(tmp_path, exclude_artefacts=False))
    assert manifest_hash(open_atlas(tmp_path, slice=90)) != warned  # another slice is other data


def test_data_folder_comes_from_the_environment(tmp_path, monkeypatch):
    write_scan(tmp_path / "atlas", "sub-r001s001")
    monkeypatch.setenv("ANOBENCH_DATA", str(tmp_path))
    dataset = atlas.open_dataset({"exclude_artefacts": "false"}, DatasetContext(64))
    assert len(load_cases(dataset, "test")) == 1 and dataset.settings()["layout"] == "bids"


def write_released_png_layout(data, count):
    """The THOR release: data/ATLAS/splits/*.csv listing ./data/ATLAS/png/... rows."""
    images, masks = [], []
    for index in range(count):
        image = np.full((16, 16), 0.5, np.float32)
        image[0, 0] = index / count
        mask = np.zeros((16, 16), np.float32)
        mask[4:8, 4:8] = 1
        images.append(f"./data/ATLAS/png/sub-r{index:03d}s001.png")
        masks.append(f"./data/ATLAS/png_mask/sub-r{index:03d}s001.png")
        write_png(data.parent / images[-1], image)
        write_png(data.parent / masks[-1], mask)
    write_filename_csv(data / "ATLAS" / "splits" / "atlas_train_png.csv", images)
    write_filename_csv(data / "ATLAS" / "splits" / "atlas_train_mask_png.csv", masks)


def test_released_png_layout_with_the_artefact_rows_left_out(tmp_path):
    data = tmp_path / "repo" / "data"
    write_released_png_layout(data, 106)
    kept = load_cases(open_atlas(data, exclude_artefacts=True), "test")
    every = load_cases(open_atlas(data), "test")
    assert len(every) == 106 and len(kept) == 104
    assert {case.case_id for case in every} - {case.case_id for case in kept} == {"sub-r100s001", "sub-r105s001"}
    settings = open_atlas(data, exclude_artefacts=True).settings()
    assert (
        settings["layout"] == "png"
        and settings["artefacts_excluded"] == 20
        and "artefact" in settings["artefact_reason"]
    )
    assert manifest_hash(open_atlas(data, exclude_artefacts=True)) != manifest_hash(open_atlas(data))


def test_bids_layout_does_not_apply_the_released_rows_and_says_so(tmp_path):
    write_scan(tmp_path, "sub-r001s001")
    with pytest.warns(UserWarning, match="not applied to the BIDS layout"):
        open_atlas(tmp_path, exclude_artefacts=True)


def test_thor_runs_on_a_bids_tree_and_on_the_released_png_layout(cli, tmp_path, denoiser_checkpoint):
    bids = tmp_path / "bids"
    for index in range(3):
        write_scan(bids, f"sub-r001s00{index + 1}")
    png = tmp_path / "repo" / "data"
    write_released_png_layout(png, 3)
    for root, layout in ((bids, "bids"), (png, "png")):
        out = tmp_path / f"run-{layout}"
        result = cli(
            "run",
            "--method",
            "thor",
            "--dataset",
            "atlas",
            "--data-root",
            str(root),
            "--checkpoint",
            str(denoiser_checkpoint),
            "--out",
            str(out),
            "--data",
            "exclude_artefacts=false",
            *FAST_THOR_WORDS,
        )
        assert result.returncode == 0, result.stderr
        assert "3 cases" in result.stdout and (out / "cases.parquet").is_file()


def test_bad_input_exits_2_with_one_line_and_writes_nothing(cli, tmp_path, denoiser_checkpoint):
    image_path, _ = write_scan(tmp_path / "bids", "sub-r001s001")
    volume = brain_volume()
    volume[1, 1, 1] = np.inf
    write_nifti(image_path, volume)
    out = tmp_path / "run"
    result = cli(
        "run",
        "--method",
        "thor",
        "--dataset",
        "atlas",
        "--data-root",
        str(tmp_path / "bids"),
        "--checkpoint",
        str(denoiser_checkpoint),
        "--out",
        str(out),
        *FAST_THOR_WORDS,
    )
    assert result.returncode == 2 and not out.exists()
    assert (
        result.stderr.strip().splitlines()[-1].startswith("error: NIfTI")
        and "1 NaN or infinite voxels" in result.stderr
    )
