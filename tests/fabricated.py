"""Small files in the real data sets' layouts, written by the tests that read them (importable:
`tests/` is on pytest's path)."""

import nibabel
import numpy as np
import SimpleITK as sitk

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


def write_scan(root, subject, volume=None, mask=None, affine=None):
    image_path, mask_path = scan_paths(root, subject)
    write_nifti(image_path, brain_volume() if volume is None else volume, affine)
    if mask is None:
        mask = np.zeros(ATLAS_SHAPE, np.uint8)
        mask[2:6, 10:14, 95] = 1  # x 2..5, y 10..13 in slice 95
    write_nifti(mask_path, mask, affine)
    return image_path, mask_path


# ATLAS's MNI grid origin (slice 95 at z = 23 mm), shifted in-plane so the small grid sits mid-brain
ATLAS_MNI_AFFINE = np.array([[1.0, 0, 0, -10.0], [0, 1.0, 0, -12.0], [0, 0, 1.0, -72.0], [0, 0, 0, 1.0]])

IXI_SHAPE = (20, 24, 40)
Z_ORIGIN = -10.0  # world z of slice 0: z = 23 mm is slice 33


def write_caps_subject(root, number, cropped=False, modality="t1"):
    subject = f"sub-IXI{number:03d}"
    pipeline, suffix = {"t1": ("t1_linear", "T1w"), "t2": ("t2_linear", "T2w")}[modality]
    folder = root / "subjects" / subject / "ses-M00" / pipeline
    folder.mkdir(parents=True, exist_ok=True)
    volume = np.random.default_rng(number).random(IXI_SHAPE).astype(np.float32) * 0.2 + 0.4
    volume[4:8, 4:8, 33] = 3.0  # a bright block only in the slice at z = 23 mm
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = (-10.0, -12.0, Z_ORIGIN)
    crop = "_desc-Crop" if cropped else ""
    path = folder / f"{subject}_ses-M00_{suffix}_space-MNI152NLin2009cSym{crop}_res-1x1x1_{suffix}.nii.gz"
    nibabel.Nifti1Image(volume, affine).to_filename(path)
    return path


# Raw IXI-like scans for `anobench prepare ixi`: a textured ellipsoidal head on a small 1 mm grid.
RAW_IXI_SHAPE = (48, 56, 48)  # x, y, z voxels of 1 mm
RAW_IXI_ORIGIN = (-24.0, -28.0, 0.0)  # covers z = 23 mm, the slice the ixi adapter takes


def head_volume():
    """An ellipsoidal head with smooth random texture, so every affine parameter shows."""
    from scipy import ndimage

    x, y, z = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in RAW_IXI_SHAPE], indexing="ij")
    centre = np.array(RAW_IXI_SHAPE) / 2
    radius = np.sqrt(((x - centre[0]) / 18) ** 2 + ((y - centre[1]) / 22) ** 2 + ((z - centre[2]) / 17) ** 2)
    texture = ndimage.gaussian_filter(np.random.default_rng(0).standard_normal(RAW_IXI_SHAPE), 2.0)
    return ((radius < 1) * (0.6 + 4 * texture)).astype(np.float32)


def as_sitk(volume):
    image = sitk.GetImageFromArray(np.transpose(volume, (2, 1, 0)).copy())  # SimpleITK arrays are z, y, x
    image.SetOrigin(RAW_IXI_ORIGIN)
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


def write_raw(folder, number, transform, modality="T1"):
    image = moved(as_sitk(head_volume()), transform)
    folder.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(folder / f"IXI{number:03d}-Guys-0828-{modality}.nii.gz"))


def brain_mask_volume():
    """The inner part of the head: what a brain mask keeps (the rest plays skull and scalp)."""
    x, y, z = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in RAW_IXI_SHAPE], indexing="ij")
    centre = np.array(RAW_IXI_SHAPE) / 2
    radius = np.sqrt(((x - centre[0]) / 18) ** 2 + ((y - centre[1]) / 22) ** 2 + ((z - centre[2]) / 17) ** 2)
    return (radius < 0.75).astype(np.float32)


def write_template_and_mask(folder):
    template, mask = folder / "template.nii.gz", folder / "brain-mask.nii.gz"
    sitk.WriteImage(as_sitk(head_volume()), str(template))
    sitk.WriteImage(as_sitk(brain_mask_volume()), str(mask))
    return template, mask


# The field's other pathologies in their releases' layouts, on the raw-IXI grid: the head's brain as
# a skull-stripped scan (BraTS), heads with a brain mask beside them (MSLUB), heads (WMH)
LESION_BOX = (slice(18, 22), slice(24, 30), slice(20, 27))  # voxels x, y, z: around z = 23 mm, in the brain


def lesion_labels(*values):
    """A label map with one box per value, side by side in x from the lesion box."""
    labels = np.zeros(RAW_IXI_SHAPE, np.uint8)
    for k, value in enumerate(values):
        x = slice(LESION_BOX[0].start + 5 * k, LESION_BOX[0].stop + 5 * k)
        labels[x, LESION_BOX[1], LESION_BOX[2]] = value
    return labels


def write_volume(path, volume):
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(as_sitk(volume), str(path))
    return path


def lesioned_head(labels, stripped):
    """The head (or its brain), brighter where the labels are: a hyperintense lesion."""
    volume = head_volume() * (brain_mask_volume() if stripped else 1.0)
    return np.where(labels > 0, volume + 3.0, volume).astype(np.float32)


def write_brats_subject(root, number, modalities=("t1", "t1ce", "t2", "flair"), seg_shape=None):
    subject = f"BraTS2021_{number:05d}"
    folder = root / "RSNA_ASNR_MICCAI_BraTS2021_TrainingData_16July2021" / subject
    labels = lesion_labels(1, 2, 4)
    for modality in modalities:
        write_volume(folder / f"{subject}_{modality}.nii.gz", lesioned_head(labels, stripped=True))
    seg = labels if seg_shape is None else np.zeros(seg_shape, np.uint8)
    write_volume(folder / f"{subject}_seg.nii.gz", seg)
    return folder


def write_mslub_patient(root, number, with_mask=True):
    folder = root / f"patient{number:02d}"
    labels = lesion_labels(1)
    for name in ("T1W", "T1WKS", "T2W", "FLAIR"):
        write_volume(folder / f"{name}.nii.gz", lesioned_head(labels, stripped=False))
    write_volume(folder / "brainmask.nii.gz", brain_mask_volume().astype(np.uint8))
    if with_mask:
        write_volume(folder / "consensus_gt.nii.gz", labels)
    return folder


def write_wmh_subject(root, site, number):
    folder = root / "training" / site / str(number)
    labels = lesion_labels(1, 2)  # a WMH, then "other pathology"
    for name in ("FLAIR", "T1"):
        write_volume(folder / "pre" / f"{name}.nii.gz", lesioned_head(labels, stripped=False))
    write_volume(folder / "wmh.nii.gz", labels)
    return folder
