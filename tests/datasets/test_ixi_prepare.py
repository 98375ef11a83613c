"""`anobench prepare ixi` on small fabricated raw scans: registration, CAPS output, resuming."""

import nibabel
import numpy as np
import pytest
import SimpleITK as sitk

from anobench.api import DatasetContext
from anobench.datasets import ixi
from anobench.datasets.ixi_prepare import RegistrationSettings, register_affine
from anobench.errors import AnobenchError

SHAPE = (48, 56, 48)  # x, y, z voxels of 1 mm
ORIGIN = (-24.0, -28.0, 0.0)  # covers z = 23 mm, the slice the ixi adapter takes


def head_volume():
    """An ellipsoidal head with smooth random texture, so every affine parameter shows."""
    from scipy import ndimage

    x, y, z = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in SHAPE], indexing="ij")
    centre = np.array(SHAPE) / 2
    radius = np.sqrt(((x - centre[0]) / 18) ** 2 + ((y - centre[1]) / 22) ** 2 + ((z - centre[2]) / 17) ** 2)
    texture = ndimage.gaussian_filter(np.random.default_rng(0).standard_normal(SHAPE), 2.0)
    return ((radius < 1) * (0.6 + 4 * texture)).astype(np.float32)


def as_sitk(volume):
    image = sitk.GetImageFromArray(np.transpose(volume, (2, 1, 0)).copy())  # SimpleITK arrays are z, y, x
    image.SetOrigin(ORIGIN)
    return image


def known_affine():
    transform = sitk.AffineTransform(3)
    rotation = sitk.Euler3DTransform((0, 0, 24), np.radians(6), np.radians(-4), np.radians(8))
    matrix = np.array(rotation.GetMatrix()).reshape(3, 3) @ np.diag([1.05, 0.95, 1.02])
    transform.SetMatrix(matrix.ravel().tolist())
    transform.SetCenter((0, 0, 24))
    transform.SetTranslation((3.0, -2.0, 1.5))
    return transform


def moved(fixed, transform):
    """The fixed image seen through `transform` (fixed points → moving points)."""
    return sitk.Resample(fixed, fixed, transform.GetInverse(), sitk.sitkLinear, 0.0)


def test_registration_recovers_a_known_affine_within_one_voxel():
    fixed = as_sitk(head_volume())
    truth = known_affine()
    found = register_affine(fixed, moved(fixed, truth), RegistrationSettings())
    points = [fixed.TransformIndexToPhysicalPoint((i, j, k)) for i in (12, 24, 36) for j in (14, 28, 42) for k in (12, 24, 36)]
    errors = [np.linalg.norm(np.subtract(found.TransformPoint(p), truth.TransformPoint(p))) for p in points]
    assert max(errors) < 1.0  # mm = voxels here
    again = register_affine(fixed, moved(fixed, truth), RegistrationSettings())
    # seeded sampling: the same scan registers the same way (up to the order of threaded sums)
    np.testing.assert_allclose(again.GetParameters(), found.GetParameters(), rtol=0, atol=1e-6)


def write_raw(folder, number, transform):
    image = moved(as_sitk(head_volume()), transform)
    folder.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(folder / f"IXI{number:03d}-Guys-0828-T1.nii.gz"))


def test_prepare_writes_caps_resumes_and_feeds_the_ixi_adapter(cli, tmp_path):
    template = tmp_path / "template.nii.gz"
    sitk.WriteImage(as_sitk(head_volume()), str(template))
    write_raw(tmp_path / "raw", 2, known_affine())
    write_raw(tmp_path / "raw", 12, sitk.AffineTransform(3))
    (tmp_path / "raw" / "README.txt").write_text("not a scan")
    out = tmp_path / "caps"
    first = cli("prepare", "ixi", str(tmp_path / "raw"), str(out), "--template", str(template), "--space", "Test")
    assert first.returncode == 0, first.stderr
    assert "registered 2 scan(s), 0 already prepared" in first.stdout
    written = sorted(p.relative_to(out).as_posix() for p in out.glob("subjects/*/*/*/*.nii.gz"))
    assert written == [
        "subjects/sub-IXI002/ses-M00/t1_linear/sub-IXI002_ses-M00_T1w_space-Test_res-1x1x1_T1w.nii.gz",
        "subjects/sub-IXI012/ses-M00/t1_linear/sub-IXI012_ses-M00_T1w_space-Test_res-1x1x1_T1w.nii.gz",
    ]
    registered = nibabel.load(out / written[0])
    assert registered.shape == SHAPE
    again = cli("prepare", "ixi", str(tmp_path / "raw"), str(out), "--template", str(template), "--space", "Test")
    assert "registered 0 scan(s), 2 already prepared" in again.stdout
    dataset = ixi.open_dataset({}, DatasetContext(64, out))
    assert sum(len(dataset.cases(split)) for split in ixi.SPLITS) == 2


def test_prepare_names_what_is_missing(tmp_path):
    from anobench.datasets.ixi_prepare import raw_scans

    with pytest.raises(AnobenchError, match="does not exist; get IXI-T1.tar"):
        raw_scans(tmp_path / "nowhere")
    with pytest.raises(AnobenchError, match="no IXI\\*-T1.nii.gz files"):
        raw_scans(tmp_path)
