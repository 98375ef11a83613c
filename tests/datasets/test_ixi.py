"""The IXI adapter on a small fabricated Clinica CAPS tree."""

import pytest

from anobench.api import DatasetContext
from anobench.datasets import ixi
from anobench.datasets.png_slices import read_filename_csv, write_filename_csv
from anobench.errors import AnobenchError
from fabricated import write_caps_subject as write_subject

def open_ixi(root, **options):
    return ixi.open_dataset({k: str(v) for k, v in options.items()}, DatasetContext(64, root))


def test_the_slice_at_atlas_height_is_taken_through_the_affine(tmp_path):
    write_subject(tmp_path, 2)
    dataset = open_ixi(tmp_path)
    (case,) = [*dataset.cases("train"), *dataset.cases("val"), *dataset.cases("test")]
    assert case.case_id == "sub-IXI002_ses-M00" and case.subject_id == "sub-IXI002" and case.mask is None
    assert case.image.shape == (64, 64) and (case.image > 0.99).sum() > 20


def test_splits_are_seeded_ten_percent_held_out_written_and_reused(tmp_path):
    for number in range(20):
        write_subject(tmp_path, number)
    write_subject(tmp_path, 0, cropped=True)  # Clinica's cropped twin is not a second scan
    dataset = open_ixi(tmp_path)
    sizes = dataset.settings()["split_sizes"]
    assert sizes == {"train": 16, "val": 2, "test": 2}
    lists = {split: read_filename_csv(tmp_path / "splits" / f"ixi_{split}.csv") for split in ixi.SPLITS}
    assert not any("desc-Crop" in name for names in lists.values() for name in names)
    assert len({name for names in lists.values() for name in names}) == 20
    assert ixi.make_splits([f"s{i}" for i in range(581)], 0) == ixi.make_splits([f"s{i}" for i in range(581)], 0)
    assert [len(v) for v in ixi.make_splits([f"s{i}" for i in range(581)], 0).values()] == [58, 58, 465]
    # shared lists are used as they are
    write_filename_csv(tmp_path / "splits" / "ixi_test.csv", lists["train"][:1])
    assert [c.case_id for c in open_ixi(tmp_path).cases("test")] == [lists["train"][0].split("/")[-1].split("_T1w")[0]]


def test_manifest_covers_the_split_lists(tmp_path):
    for number in range(10):
        write_subject(tmp_path, number)
    before = open_ixi(tmp_path).manifest_hash()
    lists = read_filename_csv(tmp_path / "splits" / "ixi_val.csv")
    write_filename_csv(tmp_path / "splits" / "ixi_val.csv", lists[:0])
    assert open_ixi(tmp_path).manifest_hash() != before


def test_empty_tree_and_missing_listed_file_are_clear_errors(tmp_path):
    with pytest.raises(AnobenchError, match="no subjects/sub-.*get it from the IXI data set"):
        open_ixi(tmp_path)
    path = write_subject(tmp_path, 1)
    open_ixi(tmp_path)
    path.unlink()
    with pytest.raises(AnobenchError, match="listed in a split CSV does not exist"):
        dataset = open_ixi(tmp_path)
        [dataset.cases(split) for split in ixi.SPLITS]


def test_thor_runs_on_a_caps_tree(cli, tmp_path, tiny_checkpoint):
    for number in range(10):
        write_subject(tmp_path / "caps", number)
    out = tmp_path / "run"
    result = cli("run", "--method", "thor", "--dataset", "ixi", "--data-root", str(tmp_path / "caps"),
                 "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--set", "t0=20", "--set", "stride=10",
                 "--set", "harmonization=10", "--set", "perceptual=ssim")
    assert result.returncode == 0, result.stderr
    assert "1 cases" in result.stdout and (out / "cases.parquet").is_file()
    verified = cli("data", "verify", str(out))
    assert verified.returncode == 0 and "data unchanged" in verified.stdout, verified.stderr
    test_list = tmp_path / "caps" / "splits" / "ixi_test.csv"
    test_list.write_text(test_list.read_text() + "\n")  # same rows, other bytes: still a change
    changed = cli("data", "verify", str(out))
    assert changed.returncode == 2 and "changed since it ran" in changed.stderr


def test_training_reads_the_ixi_train_split(tmp_path):
    from anobench.training import TrainConfig, train

    for number in range(10):
        write_subject(tmp_path / "caps", number)
    entry = train(TrainConfig(dataset="ixi", steps=1, batch_size=2), tmp_path / "m.pt", {}, "cpu", data_root=tmp_path / "caps")
    assert entry["command"].endswith(f"--data-root {tmp_path / 'caps'} --out {tmp_path / 'm.pt'}")
