"""brats, mslub, wmh: `anobench prepare NAME` on small trees in each release's layout, the adapters
reading what it wrote, and every bad input as one line."""

import json
import re
import shlex
import shutil

import nibabel
import numpy as np
import pytest
from fabricated import (
    LESION_BOX,
    brain_mask_volume,
    lesion_labels,
    write_brats_subject,
    write_caps_subject,
    write_mslub_patient,
    write_template_and_mask,
    write_volume,
    write_wmh_subject,
)
from scipy import ndimage

from anobench.api import DatasetContext
from anobench.datasets.lesion_prepare import prepare_release
from anobench.datasets.lesion_releases import release
from anobench.datasets.lesion_scans import open_brats, open_mslub, open_wmh
from anobench.datasets.nifti import axial_slice, read_volume
from anobench.datasets.registration import NILEARN_TEMPLATE_SPACE
from anobench.diffusion.checkpoint import read_checkpoint
from anobench.errors import AnobenchError
from anobench.imaging import prepare_mask
from anobench.store.folder import read_json


def tree(root):
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())


def prepare_words(name, raw, out, template, mask, *more):
    return ["prepare", name, str(raw), str(out), "--template", str(template), "--brain-mask", str(mask), *more]


def volume(path):
    return np.asarray(nibabel.load(path).dataobj)


def dice(found, truth):
    return 2 * (found & truth).sum() / (found.sum() + truth.sum())


def test_brats_prepared_as_printed_into_mni_space_read_as_slices_and_volumes(cli, tmp_path):
    template, mask = write_template_and_mask(tmp_path)
    raw, out = tmp_path / "BraTS2021", tmp_path / "brats"
    for number in (0, 1):
        write_brats_subject(raw, number)
    before = tree(raw)
    first = cli(*prepare_words("brats", raw, out, template, mask))
    assert first.returncode == 0, first.stderr
    assert "registered 2 brats t2 scan(s), 0 already prepared" in first.stdout
    assert tree(raw) == before  # nothing written into the release
    assert tree(out) == [
        "BraTS2021_00000/BraTS2021_00000_T2w.nii.gz",
        "BraTS2021_00000/BraTS2021_00000_lesion.nii.gz",
        "BraTS2021_00001/BraTS2021_00001_T2w.nii.gz",
        "BraTS2021_00001/BraTS2021_00001_lesion.nii.gz",
        "anobench-prepared.json",
    ]
    described = json.loads((out / "anobench-prepared.json").read_text())
    assert (described["release"], described["modality"], described["skull"]) == (
        "brats",
        "t2",
        "stripped by the release",
    )
    # the template's own grid: the whole tumour (labels 1, 2, 4) lands where it was
    lesion = volume(out / "BraTS2021_00000" / "BraTS2021_00000_lesion.nii.gz") > 0
    assert dice(lesion, lesion_labels(1, 2, 4) > 0) > 0.9
    assert "0 already" not in cli(*prepare_words("brats", raw, out, template, mask)).stdout  # resumed: 2 already

    slices = open_brats({}, DatasetContext(64, out))
    evaluation = slices.evaluation
    assert (evaluation.modality, evaluation.lesion_contrast, evaluation.healthy_split) == ("t2", "bright", "ixi:val")
    assert evaluation.healthy_options == (("modality", "t2"),) and evaluation.training_split == "ixi:train"
    assert slices.case_ids("test") == ["BraTS2021_00000", "BraTS2021_00001"]
    case = slices.load_case("test", "BraTS2021_00000")
    assert case.image.shape == (64, 64) and case.mask.any() and case.image.max() == pytest.approx(1.0)

    volumes = open_brats({"z_range": "20:26"}, DatasetContext(64, out))
    ids = volumes.case_ids("test")
    assert len(ids) == 14 and ids[0] == "BraTS2021_00000_z020"  # 7 slices of 1 mm per subject
    middle = volumes.load_case("test", "BraTS2021_00000_z023")
    assert middle.subject_id == "BraTS2021_00000" and middle.slice_index == 23
    assert middle.mask.any() and (middle.mask <= middle.brain_mask).all()
    assert volumes.evaluation.volumes and volumes.evaluation.healthy_test_split == "ixi:test"

    # another modality is another folder: the error's command prepares it, as printed
    with pytest.raises(AnobenchError, match="holds brats t2 images") as refused:
        open_brats({"modality": "flair"}, DatasetContext(64, out))
    words = shlex.split(re.search(r"`([^`]+)`", str(refused.value)).group(1))
    assert words[:3] == ["anobench", "prepare", "brats"] and words[-2:] == ["--modality", "flair"]
    # exactly as printed; the cache holds this test's small template where nilearn's MNI152 would be written
    templates = tmp_path / "cache" / "templates"
    templates.mkdir(parents=True)
    shutil.copy(template, templates / f"mni152-{NILEARN_TEMPLATE_SPACE}-1mm.nii.gz")
    shutil.copy(mask, templates / f"mni152-{NILEARN_TEMPLATE_SPACE}-1mm-brain-mask.nii.gz")
    flair = cli(*words[1:], env={"ANOBENCH_CACHE": str(tmp_path / "cache")})
    assert flair.returncode == 0, flair.stderr
    assert (
        open_brats({"modality": "flair"}, DatasetContext(64, tmp_path / "brats-flair")).evaluation.modality == "flair"
    )


def test_wmh_label_2_is_neither_lesion_nor_brain_and_the_skull_is_stripped(cli, tmp_path):
    template, mask = write_template_and_mask(tmp_path)
    raw, out = tmp_path / "WMH", tmp_path / "wmh"
    write_wmh_subject(raw, "Utrecht", 0)
    write_wmh_subject(raw, "Singapore", 50)
    result = cli(*prepare_words("wmh", raw, out, template, mask))
    assert result.returncode == 0 and "registered 2 wmh flair scan(s)" in result.stdout, result.stderr
    subject = "training-Utrecht-0"
    assert (out / subject / f"{subject}_excluded.nii.gz").is_file()
    image = volume(out / subject / f"{subject}_FLAIR.nii.gz")
    assert not image[brain_mask_volume() == 0].any()  # not stripped by the release: the template's brain mask
    lesion = volume(out / subject / f"{subject}_lesion.nii.gz") > 0
    assert dice(lesion, lesion_labels(1, 0) == 1) > 0.9  # label 1 only

    wmh = open_wmh({"z_range": "23:23"}, DatasetContext(128, out))
    assert wmh.evaluation.modality == "flair" and wmh.evaluation.healthy_split is None  # IXI has no FLAIR
    case = wmh.load_case("test", f"{subject}_z023")
    excluded_volume = read_volume(out / subject / f"{subject}_excluded.nii.gz") > 0
    excluded = prepare_mask(axial_slice(excluded_volume, 23, "excluded"), 128)  # as the adapter cuts masks
    assert excluded.any() and case.mask.any()
    assert not (case.brain_mask & excluded).any() and not (case.mask & excluded).any()


def test_mslub_strips_with_its_own_brain_mask_and_names_a_patient_without_lesion_mask(cli, tmp_path):
    template, mask = write_template_and_mask(tmp_path)
    raw, out = tmp_path / "MSLUB", tmp_path / "mslub"
    write_mslub_patient(raw, 1)
    write_mslub_patient(raw, 2, with_mask=False)
    missing = cli(*prepare_words("mslub", raw, out, template, mask))
    assert missing.returncode == 2 and not out.exists()
    assert "mslub patient02 has no lesion mask" in missing.stderr and "consensus_gt.nii.gz is missing" in missing.stderr
    write_volume(raw / "patient02" / "consensus_gt.nii.gz", lesion_labels(1))
    done = cli(*prepare_words("mslub", raw, out, template, mask))
    assert done.returncode == 0, done.stderr
    image = volume(out / "patient01" / "patient01_T2w.nii.gz")
    # stripped before registration (linear interpolation smears the edge by a voxel), not by the template's mask
    distance_to_brain = ndimage.distance_transform_edt(brain_mask_volume() == 0)
    assert distance_to_brain[image != 0].max() < 2 and distance_to_brain[image != 0].max() > 0
    described = json.loads((out / "anobench-prepared.json").read_text())
    assert described["skull"].startswith("release brain mask")
    assert open_mslub({}, DatasetContext(64, out)).case_ids("test") == ["patient01", "patient02"]


def test_bad_releases_are_one_line_each(cli, tmp_path):
    template, mask = write_template_and_mask(tmp_path)
    raw = tmp_path / "raw"
    folder = write_brats_subject(raw, 3, modalities=("t1", "t1ce", "flair"))
    no_t2 = cli(*prepare_words("brats", raw, tmp_path / "out", template, mask))
    assert no_t2.returncode == 2 and len(no_t2.stderr.strip().splitlines()) == 1
    assert "brats subject BraTS2021_00003 lacks its t2" in no_t2.stderr and "BraTS2021_00003_t2.nii.gz" in no_t2.stderr
    write_brats_subject(tmp_path / "other", 4, seg_shape=(48, 56, 40))
    shape = cli(*prepare_words("brats", tmp_path / "other", tmp_path / "out", template, mask))
    assert shape.returncode == 2 and "BraTS2021_00004_seg.nii.gz has shape (48, 56, 40)" in shape.stderr
    assert not (tmp_path / "out").exists()  # checked before anything is written
    write_volume(folder / "BraTS2021_00003_seg.nii.gz", lesion_labels(3))
    with pytest.raises(AnobenchError, match="holds label\\(s\\) 3; brats label maps hold 0, 1, 2, 4"):
        prepare_release(release("brats"), raw, tmp_path / "out", "flair", template, "Test", mask)
    unknown = cli(*prepare_words("brats", raw, tmp_path / "out", template, mask, "--modality", "pd"))
    assert unknown.returncode == 2 and "brats has no modality 'pd'; one of t1, t1ce, t2, flair" in unknown.stderr
    stripped = cli("prepare", "brats", str(raw), str(tmp_path / "out"), "--keep-skull")
    assert stripped.returncode == 2 and "the brats release is skull-stripped already" in stripped.stderr


def test_a_prepared_folder_is_read_only_as_what_it_holds(tmp_path):
    with pytest.raises(AnobenchError, match="no anobench-prepared.json in .*`anobench prepare brats`"):
        open_brats({}, DatasetContext(64, tmp_path))
    (tmp_path / "anobench-prepared.json").write_text(json.dumps({"release": "mslub", "modality": "t2"}))
    with pytest.raises(AnobenchError, match="holds mslub scans .*not brats; use --dataset mslub"):
        open_brats({}, DatasetContext(64, tmp_path))
    with pytest.raises(AnobenchError, match="holds mslub t2 images; flair ones are prepared into another folder"):
        open_mslub({"modality": "flair"}, DatasetContext(64, tmp_path))
    with pytest.raises(AnobenchError, match="no prepared subject"):
        open_mslub({}, DatasetContext(64, tmp_path))
    assert LESION_BOX[2].start <= 23 < LESION_BOX[2].stop  # the fabricated lesions cross the slice read


def test_brats_calibrates_and_trains_on_ixi_t2_and_a_t2_denoiser_refuses_t1_data(cli, tmp_path, phantom_args):
    template, mask = write_template_and_mask(tmp_path)
    raw, brats, ixi = tmp_path / "BraTS2021", tmp_path / "brats", tmp_path / "ixi"
    for number in (0, 1):
        write_brats_subject(raw, number)
    assert cli(*prepare_words("brats", raw, brats, template, mask)).returncode == 0
    for number in range(1, 11):  # 8 / 1 / 1 after the seeded split
        write_caps_subject(ixi, number, modality="t2")
    roots = ["--data-root", str(brats), "--data-root", f"ixi={ixi}"]
    env = {"ANOBENCH_CACHE": str(tmp_path / "cache")}

    # network-free: the intensity baseline, its thresholds calibrated on IXI's T2 validation scans
    intensity = cli("run", "--method", "intensity", "--dataset", "brats", *roots, "--healthy-split", "auto",
                    "--out", str(tmp_path / "runs" / "intensity"), env=env)  # fmt: skip
    assert intensity.returncode == 0, intensity.stderr
    healthy = read_json(tmp_path / "runs" / "intensity" / "config.json")["healthy"]
    assert healthy["dataset"] == "ixi" and healthy["dataset_options"] == {"modality": "t2"}
    assert healthy["dataset_settings"]["modality"] == "t2"

    # no IXI T2 denoiser is shipped: the error proposes training one on IXI's T2 scans, which runs as printed
    ddpm = ["run", "--method", "ddpm", "--dataset", "brats", *roots, "--set", "t0=30", "--set", "stride=10"]
    missing = cli(*ddpm, "--out", str(tmp_path / "runs" / "ddpm"), env=env)
    assert missing.returncode == 2, missing.stderr
    words = shlex.split(re.search(r"train it with `([^`]+)`", missing.stderr).group(1))
    assert words[:4] == ["anobench", "train", "--dataset", "ixi:train"]
    assert ["--data-root", str(ixi), "--set", "modality=t2"] == words[4:8]
    checkpoint = tmp_path / "cache" / "checkpoints" / "ixi-t2-gaussian-cpu-small.pt"
    assert words[-1] == str(checkpoint)
    trained = cli(*words[1:], "--steps", "2", "--batch-size", "2", env=env)
    assert trained.returncode == 0, trained.stderr
    assert read_checkpoint(checkpoint)["training"]["modality"] == "t2"
    found = cli(*ddpm, "--out", str(tmp_path / "runs" / "ddpm"), env=env)
    assert found.returncode == 0, found.stderr

    # the T2 denoiser on T1 images: one line, with the command that trains a T1 one
    refused = cli("run", "--method", "ddpm", "--dataset", "brain-phantom", *phantom_args, "--checkpoint",
                  str(checkpoint), "--out", str(tmp_path / "runs" / "t1"))  # fmt: skip
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "was trained on t2 images and brain-phantom here has t1 images" in refused.stderr
    assert "`anobench train --dataset brain-phantom --set n_test=12" in refused.stderr
    assert not (tmp_path / "runs" / "t1").exists()
