"""The IXI adapter on a small fabricated Clinica CAPS tree."""

import pytest
from conftest import FAST_THOR_WORDS
from fabricated import write_caps_subject as write_subject

from anobench.api import DatasetContext, load_cases, manifest_hash
from anobench.datasets import ixi
from anobench.datasets.png_slices import write_filename_csv
from anobench.errors import AnobenchError


def open_ixi(root, **options):
    return ixi.open_dataset({k: str(v) for k, v in options.items()}, DatasetContext(64, root))


def test_the_slice_at_atlas_height_is_taken_through_the_affine(tmp_path):
    write_subject(tmp_path, 2)
    dataset = open_ixi(tmp_path)
    (case,) = load_cases(dataset, "train")  # one scan: nothing is held out
    assert case.case_id == "sub-IXI002_ses-M00" and case.subject_id == "sub-IXI002" and case.mask is None
    assert case.image.shape == (64, 64) and (case.image > 0.99).sum() > 20


def test_splits_are_seeded_ten_percent_held_out_and_nothing_is_written(tmp_path):
    for number in range(20):
        write_subject(tmp_path, number)
    write_subject(tmp_path, 0, cropped=True)  # Clinica's cropped twin is not a second scan
    before = sorted(tmp_path.rglob("*"))
    dataset = open_ixi(tmp_path)
    sizes = dataset.settings()["split_sizes"]
    assert sizes == {"train": 16, "val": 2, "test": 2}
    ids = {split: dataset.case_ids(split) for split in ixi.SPLITS}
    assert not any("Crop" in case_id for names in ids.values() for case_id in names)
    assert len({case_id for names in ids.values() for case_id in names}) == 20
    assert sorted(tmp_path.rglob("*")) == before  # opening and listing write nothing
    assert open_ixi(tmp_path, split_seed=1).case_ids("val") != ids["val"]  # the seed is honoured every time
    assert [len(v) for v in ixi.make_splits([f"s{i}" for i in range(581)], 0).values()] == [58, 58, 465]


def test_shared_split_lists_are_used_as_they_are(tmp_path):
    paths = [write_subject(tmp_path / "caps", number) for number in range(6)]
    lists = tmp_path / "shared"
    names = [str(path.relative_to(tmp_path / "caps")) for path in paths]
    write_filename_csv(lists / "ixi_train.csv", names[:4])
    write_filename_csv(lists / "ixi_val.csv", names[4:5])
    write_filename_csv(lists / "ixi_test.csv", names[5:])
    dataset = open_ixi(tmp_path / "caps", split_lists=lists)
    assert dataset.case_ids("val") == ["sub-IXI004_ses-M00"]
    before = manifest_hash(dataset)
    write_filename_csv(lists / "ixi_val.csv", names[3:4])
    assert manifest_hash(open_ixi(tmp_path / "caps", split_lists=lists)) != before  # the lists are in the manifest


def test_empty_tree_empty_split_and_missing_listed_file_are_clear_errors(tmp_path):
    with pytest.raises(AnobenchError, match="no subjects/sub-.*get it from the IXI data set"):
        open_ixi(tmp_path)
    write_subject(tmp_path, 1)
    write_subject(tmp_path, 2)
    with pytest.raises(AnobenchError, match="ixi split 'val' is empty: 2 scan.s. split 10 % / 10 % / rest"):
        open_ixi(tmp_path).case_ids("val")
    lists = tmp_path / "lists"
    for split in ixi.SPLITS:
        write_filename_csv(lists / f"ixi_{split}.csv", ["subjects/sub-IXI099/ses-M00/t1_linear/missing_T1w.nii.gz"])
    with pytest.raises(AnobenchError, match="listed in a split CSV does not exist"):
        open_ixi(tmp_path, split_lists=lists).case_ids("train")


def test_thor_runs_on_a_caps_tree(cli, tmp_path, denoiser_checkpoint):
    for number in range(10):
        write_subject(tmp_path / "caps", number)
    out = tmp_path / "run"
    result = cli(
        "run",
        "--method",
        "thor",
        "--dataset",
        "ixi",
        "--data-root",
        str(tmp_path / "caps"),
        "--checkpoint",
        str(denoiser_checkpoint),
        "--out",
        str(out),
        *FAST_THOR_WORDS,
    )
    assert result.returncode == 0, result.stderr
    assert "1 cases" in result.stdout and (out / "cases.parquet").is_file()
    verified = cli("data", "verify", str(out))
    assert verified.returncode == 0 and "data unchanged" in verified.stdout, verified.stderr
    scan = next((tmp_path / "caps").rglob("sub-IXI003*_T1w.nii.gz"))
    scan.write_bytes(scan.read_bytes() + b"\0")  # other bytes: a change, named
    changed = cli("data", "verify", str(out))
    assert changed.returncode == 2 and "changed since it ran: 1 file(s) changed: subjects/sub-IXI003" in changed.stderr


def test_training_reads_the_ixi_train_split(tmp_path):
    from anobench.training.trainer import TrainConfig, train

    for number in range(10):
        write_subject(tmp_path / "caps", number)
    entry = train(
        TrainConfig(dataset="ixi", steps=1, batch_size=2), tmp_path / "m.pt", {}, "cpu", data_root=tmp_path / "caps"
    )
    assert entry["command"].endswith(f"--data-root {tmp_path / 'caps'} --out {tmp_path / 'm.pt'}")
