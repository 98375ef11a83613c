"""Small files in the real data sets' layouts, written by the tests that read them (importable:
`tests/` is on pytest's path)."""

import nibabel
import numpy as np

ATLAS_SHAPE = (20, 24, 189)  # x, y, z: 189 axial slices like ATLAS, small in-plane


def write_nifti(path, array, affine=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    nibabel.Nifti1Image(np.asarray(array), np.eye(4) if affine is None else affine).to_filename(path)


def scan_paths(root, subject):
    anat = root / "Training" / "R001" / subject / "ses-1" / "anat"
    stem = f"{subject}_ses-1_space-MNI152NLin2009aSym"
    return anat / f"{stem}_T1w.nii.gz", anat / f"{stem}_label-L_desc-T1lesion_mask.nii.gz"


def brain_volume(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random(ATLAS_SHAPE) * 0.2 + 0.5).astype(np.float32)


def write_scan(root, subject, volume=None, mask=None):
    image_path, mask_path = scan_paths(root, subject)
    write_nifti(image_path, brain_volume() if volume is None else volume)
    if mask is None:
        mask = np.zeros(ATLAS_SHAPE, np.uint8)
        mask[2:6, 10:14, 95] = 1  # x 2..5, y 10..13 in slice 95
    write_nifti(mask_path, mask)
    return image_path, mask_path


IXI_SHAPE = (20, 24, 40)
Z_ORIGIN = -10.0  # world z of slice 0: z = 23 mm is slice 33


def write_caps_subject(root, number, cropped=False):
    subject = f"sub-IXI{number:03d}"
    folder = root / "subjects" / subject / "ses-M00" / "t1_linear"
    folder.mkdir(parents=True, exist_ok=True)
    volume = np.random.default_rng(number).random(IXI_SHAPE).astype(np.float32) * 0.2 + 0.4
    volume[4:8, 4:8, 33] = 3.0  # a bright block only in the slice at z = 23 mm
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = (-10.0, -12.0, Z_ORIGIN)
    crop = "_desc-Crop" if cropped else ""
    path = folder / f"{subject}_ses-M00_T1w_space-MNI152NLin2009cSym{crop}_res-1x1x1_T1w.nii.gz"
    nibabel.Nifti1Image(volume, affine).to_filename(path)
    return path
