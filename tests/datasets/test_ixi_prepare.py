"""`anobench prepare ixi` on small fabricated raw scans: registration, CAPS output, resuming."""

import nibabel
import numpy as np
import pytest
import SimpleITK as sitk
from fabricated import (
    RAW_IXI_SHAPE as SHAPE,
)
from fabricated import (
    as_sitk,
    brain_mask_volume,
    head_volume,
    known_affine,
    moved,
    write_raw,
    write_template_and_mask,
)

from anobench.api import DatasetContext, load_cases
from anobench.datasets import ixi
from anobench.datasets.registration import RegistrationSettings, register_affine
from anobench.errors import AnobenchError


def test_registration_recovers_a_known_affine_within_one_voxel():
    fixed = as_sitk(head_volume())
    truth = known_affine()
    found = register_affine(fixed, moved(fixed, truth), RegistrationSettings())
    points = [
        fixed.TransformIndexToPhysicalPoint((i, j, k)) for i in (12, 24, 36) for j in (14, 28, 42) for k in (12, 24, 36)
    ]
    errors = [np.linalg.norm(np.subtract(found.TransformPoint(p), truth.TransformPoint(p))) for p in points]
    assert max(errors) < 1.0  # mm = voxels here
    again = register_affine(fixed, moved(fixed, truth), RegistrationSettings())
    # seeded sampling: the same scan registers the same way (up to the order of threaded sums)
    np.testing.assert_allclose(again.GetParameters(), found.GetParameters(), rtol=0, atol=1e-6)


def test_prepare_writes_caps_skull_stripped_resumes_and_feeds_the_ixi_adapter(cli, tmp_path):
    template, mask = write_template_and_mask(tmp_path)
    write_raw(tmp_path / "raw", 2, known_affine())
    write_raw(tmp_path / "raw", 12, sitk.AffineTransform(3))
    (tmp_path / "raw" / "README.txt").write_text("not a scan")
    out = tmp_path / "caps"
    prepare = [
        "prepare",
        "ixi",
        str(tmp_path / "raw"),
        str(out),
        "--template",
        str(template),
        "--brain-mask",
        str(mask),
        "--space",
        "Test",
    ]
    first = cli(*prepare)
    assert first.returncode == 0, first.stderr
    assert "registered 2 scan(s) (skull-stripped), 0 already prepared" in first.stdout
    written = sorted(p.relative_to(out).as_posix() for p in out.glob("subjects/*/*/*/*.nii.gz"))
    assert written == [
        "subjects/sub-IXI002/ses-M00/t1_linear/sub-IXI002_ses-M00_T1w_space-Test_res-1x1x1_T1w.nii.gz",
        "subjects/sub-IXI012/ses-M00/t1_linear/sub-IXI012_ses-M00_T1w_space-Test_res-1x1x1_T1w.nii.gz",
    ]
    registered = np.asarray(nibabel.load(out / written[1]).dataobj)  # IXI012: moved by the identity
    assert registered.shape == SHAPE
    inside = brain_mask_volume() > 0
    assert not registered[~inside].any()  # skull and scalp are gone
    np.testing.assert_allclose(registered[inside], head_volume()[inside], atol=0.05)  # the brain is kept
    again = cli(*prepare)  # the same command again
    assert "registered 0 scan(s) (skull-stripped), 2 already prepared" in again.stdout
    dataset = ixi.open_dataset({}, DatasetContext(64, out))
    assert len(load_cases(dataset, "train")) == 2  # two scans: nothing is held out


def test_the_t2_release_is_prepared_beside_the_t1_one_and_read_with_modality_t2(cli, tmp_path):
    template, mask = write_template_and_mask(tmp_path)
    for modality in ("T1", "T2"):
        write_raw(tmp_path / f"IXI-{modality}", 2, known_affine(), modality)
    out = tmp_path / "ixi"
    words = ["--template", str(template), "--brain-mask", str(mask)]
    assert cli("prepare", "ixi", str(tmp_path / "IXI-T1"), str(out), *words).returncode == 0
    t2 = cli("prepare", "ixi", str(tmp_path / "IXI-T2"), str(out), "--modality", "t2", *words)
    assert t2.returncode == 0 and "registered 1 scan(s)" in t2.stdout, t2.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("subjects/*/*/*/*.nii.gz")) == [
        "subjects/sub-IXI002/ses-M00/t1_linear/sub-IXI002_ses-M00_T1w_space-MNI152NLin2009aSym_res-1x1x1_T1w.nii.gz",
        "subjects/sub-IXI002/ses-M00/t2_linear/sub-IXI002_ses-M00_T2w_space-MNI152NLin2009aSym_res-1x1x1_T2w.nii.gz",
    ]
    dataset = ixi.open_dataset({"modality": "t2"}, DatasetContext(64, out))
    assert dataset.case_ids("train") == ["sub-IXI002_ses-M00"]
    assert (dataset.evaluation.modality, dataset.evaluation.lesion_contrast) == ("t2", "bright")
    with pytest.raises(
        AnobenchError, match="no subjects/sub-\\*/ses-\\*/pd_linear/\\*_PDw.nii.gz .*with --modality pd"
    ):
        ixi.open_dataset({"modality": "pd"}, DatasetContext(64, out))
    wrong = cli("prepare", "ixi", str(tmp_path / "IXI-T1"), str(out), "--modality", "t2", *words)
    assert wrong.returncode == 2 and "no IXI*-T2.nii.gz files in" in wrong.stderr and "IXI-T2.tar" in wrong.stderr


def test_skull_kept_on_request_and_a_custom_template_needs_its_mask(cli, tmp_path):
    template, mask = write_template_and_mask(tmp_path)
    write_raw(tmp_path / "raw", 12, sitk.AffineTransform(3))
    words = ["prepare", "ixi", str(tmp_path / "raw"), str(tmp_path / "caps"), "--template", str(template)]
    missing = cli(*words)
    assert missing.returncode == 2 and "a custom --template needs its --brain-mask" in missing.stderr
    both = cli(*words, "--brain-mask", str(mask), "--keep-skull")
    assert both.returncode == 2 and "contradict" in both.stderr
    kept = cli(*words, "--keep-skull")
    assert kept.returncode == 0 and "(skull kept)" in kept.stdout, kept.stderr
    volume = np.asarray(nibabel.load(next((tmp_path / "caps").rglob("*.nii.gz"))).dataobj)
    assert volume[brain_mask_volume() == 0].any()


def test_prepare_names_what_is_missing(tmp_path):
    from anobench.datasets.ixi_prepare import raw_scans

    with pytest.raises(AnobenchError, match="does not exist; get IXI-T1.tar"):
        raw_scans(tmp_path / "nowhere")
    with pytest.raises(AnobenchError, match="no IXI\\*-T1.nii.gz files"):
        raw_scans(tmp_path)


def test_the_default_template_and_mask_are_nilearns_mni152_on_one_grid(tmp_path):
    """What `prepare ixi` registers to when no --template is given: nilearn's MNI152 (2009a, 1 mm) and
    its brain mask, written once into the cache as NIfTI files SimpleITK reads, on the same grid."""
    from anobench.datasets.registration import brain_mask_on, nilearn_brain_mask, nilearn_template, read_image

    template, mask = nilearn_template(tmp_path), nilearn_brain_mask(tmp_path)
    fixed = read_image(template)
    assert fixed.GetSize() == (197, 233, 189) and fixed.GetSpacing() == (1.0, 1.0, 1.0)
    inside = sitk.GetArrayFromImage(brain_mask_on(fixed, mask))
    assert set(np.unique(inside)) == {0.0, 1.0} and 1.0e6 < inside.sum() < 2.5e6  # an adult brain, in mm³
    voxels = sitk.GetArrayFromImage(fixed)
    assert voxels[inside > 0].mean() > 3 * voxels[inside == 0].mean()  # the mask lies on the template's brain
    assert nilearn_template(tmp_path) == template  # written once, then read from the cache
