"""ATLAS and IXI as volumes (`--data z_range=A:B`), on fabricated trees in the release layouts:
every slice of the slab, brain masks, IXI's healthy subjects cut alike, and the volume board."""

import re

import nibabel
import numpy as np
import pytest
from conftest import assignments
from fabricated import ATLAS_MNI_AFFINE, brain_volume, write_caps_subject, write_scan

from anobench.api import DatasetContext, load_cases
from anobench.datasets import atlas, ixi, volume_slabs
from anobench.datasets.nifti import axial_slice
from anobench.errors import AnobenchError
from anobench.imaging import NATIVE_SIZE, prepare_mask, resize_mask
from anobench.store import folder as store
from anobench.store.results import read_results
from anobench.training.data import load_training_images

pytestmark = pytest.mark.filterwarnings("ignore:atlas. the 20 artefact")
SLAB = "20:25"  # world heights (mm): ATLAS slices 92 … 97 (z origin −72), IXI slices 30 … 35 (origin −10)


def open_atlas(root, **options):
    return atlas.open_dataset({k: str(v) for k, v in options.items()}, DatasetContext(64, root))


def test_a_z_range_gives_every_slice_of_each_scan_with_its_brain_mask(tmp_path):
    volume = brain_volume()
    volume[:4] = 0.0  # a skull-stripped border: outside the brain whatever the template says
    write_scan(tmp_path, "sub-r001s001", volume, affine=ATLAS_MNI_AFFINE)
    write_scan(tmp_path, "sub-r001s002", brain_volume(1), affine=ATLAS_MNI_AFFINE)
    dataset = open_atlas(tmp_path, z_range=SLAB)
    assert dataset.evaluation.volumes and dataset.evaluation.healthy_test_split == "ixi:test"
    cases = load_cases(dataset, "test")
    assert [c.case_id for c in cases[:2]] == ["sub-r001s001_ses-1_z092", "sub-r001s001_ses-1_z093"]
    assert len(cases) == 12 and {c.subject_id for c in cases} == {"sub-r001s001_ses-1", "sub-r001s002_ses-1"}
    assert [c.slice_index for c in cases[:6]] == list(range(92, 98))
    assert [bool(c.mask.any()) for c in cases[:6]] == [False, False, False, True, False, False]  # lesion in 95 only
    nonzero = [resize_mask(prepare_mask(axial_slice(volume > 0, k, "v"), NATIVE_SIZE), 64) for k in range(92, 98)]
    for case, inside in zip(cases[:6], nonzero):
        assert case.brain_mask.dtype == bool and case.brain_mask.any()
        assert not (case.brain_mask & ~inside).any()  # the template never adds what the scan lacks
    stripped = open_atlas(tmp_path, z_range=SLAB, brain_mask="nonzero")
    assert all(np.array_equal(c.brain_mask, inside) for c, inside in zip(load_cases(stripped, "test")[:6], nonzero))
    assert dataset.case_ids("train-healthy") == []  # both scans have their lesion in slice 95


def test_the_template_mask_follows_each_scan_into_mni_space(tmp_path):
    write_scan(tmp_path, "sub-r001s001", affine=ATLAS_MNI_AFFINE)
    low = open_atlas(tmp_path, z_range="-70:-66")  # below the cerebrum: a rim of the cerebellum at most
    mid = open_atlas(tmp_path, z_range=SLAB)  # mid-brain, round the ventricles: all brain
    share = [np.mean([c.brain_mask.mean() for c in load_cases(d, "test")]) for d in (low, mid)]
    assert share[0] < 0.4 < 0.8 < share[1]  # of 24 × 24 after padding 20 × 24: 0.83 at most


def test_a_scan_is_read_once_for_all_its_slices(tmp_path, monkeypatch):
    write_scan(tmp_path, "sub-r001s001", affine=ATLAS_MNI_AFFINE)
    reads = []
    original = volume_slabs.read_volume_with_affine
    monkeypatch.setattr(volume_slabs, "read_volume_with_affine", lambda path: reads.append(path) or original(path))
    assert len(load_cases(open_atlas(tmp_path, z_range=SLAB), "test")) == 6 and len(reads) == 1


def test_the_header_alone_gives_the_canonical_geometry(tmp_path):
    flipped = ATLAS_MNI_AFFINE @ np.diag([-1.0, 1.0, -1.0, 1.0])  # stored left-right and top-down reversed
    path = tmp_path / "scan.nii.gz"
    nibabel.Nifti1Image(brain_volume(), flipped).to_filename(path)
    shape, affine = volume_slabs.canonical_geometry(path)
    canonical = nibabel.as_closest_canonical(nibabel.load(path))
    assert shape == canonical.shape and np.allclose(affine, canonical.affine)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"z_range": "25:20"}, r"z_range '25:20' is not of the form A:B \(world heights in mm, A ≤ B\)"),
        ({"z_range": "twenty"}, "is not of the form A:B"),
        (
            {"z_range": "200:300"},
            r"no axial slice of .* between 200 and 300 mm \(its slices span -72.0 … 116.0 mm\)",
        ),
        ({"z_range": SLAB, "brain_mask": "skull"}, "brain_mask"),
    ],
)
def test_bad_ranges_and_masks_are_named(tmp_path, options, message):
    write_scan(tmp_path, "sub-r001s001", affine=ATLAS_MNI_AFFINE)
    with pytest.raises(AnobenchError, match=message):
        load_cases(open_atlas(tmp_path, **options), "test")


def test_a_slice_outside_the_range_is_no_case_and_the_png_release_has_no_volumes(tmp_path):
    write_scan(tmp_path, "sub-r001s001", affine=ATLAS_MNI_AFFINE)
    with pytest.raises(AnobenchError, match=r"split 'test' has no case 'sub-r001s001_ses-1_z050' \(z_range=20:25\)"):
        open_atlas(tmp_path, z_range=SLAB).load_case("test", "sub-r001s001_ses-1_z050")
    (tmp_path / "png" / "splits").mkdir(parents=True)
    (tmp_path / "png" / "splits" / "atlas_train_png.csv").write_text("filename\n")
    with pytest.raises(AnobenchError, match="z_range needs the BIDS layout"):
        open_atlas(tmp_path / "png", z_range=SLAB)


def test_ixi_gives_slabs_of_every_split_and_its_test_subjects_are_the_held_out_healthy_ones(cli, tmp_path):
    for number in range(10):
        write_caps_subject(tmp_path, number)
    dataset = ixi.open_dataset({"z_range": SLAB}, DatasetContext(64, tmp_path))
    assert dataset.evaluation.volumes and dataset.evaluation.healthy_test_split == "test"
    cases = load_cases(dataset, "val")
    assert [c.slice_index for c in cases] == list(range(30, 36)) and cases[0].case_id.endswith("_z030")
    assert cases[3].image.max() == 1.0 and all(c.brain_mask.mean() > 0.8 for c in cases)  # 33: the bright block
    assert len(dataset.case_ids("train")) == 8 * 6
    images, _, _ = load_training_images("ixi", 64, {"z_range": SLAB}, tmp_path)  # a denoiser of the same slab
    assert images.shape == (8 * 6, 1, 64, 64)
    # as docs/data.md prints it, fewer steps
    words = [
        "--dataset",
        "ixi",
        "--data-root",
        str(tmp_path),
        "--set",
        f"z_range={SLAB}",
        "--out",
        str(tmp_path / "m.pt"),
    ]
    trained = cli("train", *words, "--steps", "1", "--batch-size", "2")
    assert trained.returncode == 0 and "training on 48 images of ixi" in trained.stdout, trained.stderr


def test_atlas_volumes_run_with_ixi_cut_alike_and_make_a_volume_board(cli, tmp_path, denoiser_checkpoint):
    for number in (1, 2, 3):
        write_scan(tmp_path / "ATLAS_2", f"sub-r001s00{number}", brain_volume(number), affine=ATLAS_MNI_AFFINE)
    for number in range(10):
        write_caps_subject(tmp_path / "ixi", number)
    out = tmp_path / "run"
    result = cli(
        "run",
        "--method",
        "ddpm",
        "--dataset",
        "atlas",
        "--data-root",
        str(tmp_path / "ATLAS_2"),
        "--data-root",
        f"ixi={tmp_path / 'ixi'}",
        "--data",
        f"z_range={SLAB}",
        "--healthy-split",
        "auto",
        "--checkpoint",
        str(denoiser_checkpoint),
        *assignments("--set", {"t0": "20", "stride": "10"}),
        "--latency-cases",
        "0",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "18 cases" in result.stdout
    for split, subjects in ((store.HEALTHY, 1), (store.HEALTHY_TEST, 1)):
        rows = read_results(out / split).rows
        assert rows["slice_index"].tolist() == list(range(30, 36)) * subjects  # IXI cut into the same slab
    board = cli("compare", str(out), "--layout", "volume", "--out-dir", str(tmp_path / "boards"))
    assert board.returncode == 0, board.stderr
    text = (tmp_path / "boards" / "atlas.md").read_text()
    assert "3 subjects, 18 slices; 6 per subject, slice positions 92–97" in text and re.search(r"\| ddpm +\|", text)
