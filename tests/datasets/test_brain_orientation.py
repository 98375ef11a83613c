"""Every brain source shows a slice the same way up (anterior at the top, left at column 0): the
phantom, cut from nilearn's MNI152 template, against the ATLAS and IXI adapters reading that same
template from NIfTI files in their release layouts."""

import nibabel
import numpy as np
import pytest
from conftest import SMALL_PHANTOM
from fabricated import scan_paths
from nilearn.datasets import load_mni152_template
from scipy import ndimage

from anobench import registry
from anobench.api import DatasetContext, load_cases
from anobench.datasets import atlas, ixi
from anobench.datasets.nifti import axial_slice


@pytest.fixture(scope="module")
def template_release_trees(tmp_path_factory):
    """The template as an ATLAS 2.0 scan (with a one-voxel lesion) and as an IXI CAPS scan."""
    root = tmp_path_factory.mktemp("template")
    template = load_mni152_template(resolution=1)
    image_path, mask_path = scan_paths(root / "atlas", "sub-r001s001")
    image_path.parent.mkdir(parents=True)
    template.to_filename(image_path)
    mask = np.zeros(template.shape, np.uint8)
    mask[98, 116, 95] = 1
    nibabel.Nifti1Image(mask, template.affine).to_filename(mask_path)
    caps = root / "ixi" / "subjects" / "sub-IXI002" / "ses-M00" / "t1_linear"
    caps.mkdir(parents=True)
    template.to_filename(caps / "sub-IXI002_ses-M00_T1w_space-MNI152NLin2009cSym_res-1x1x1_T1w.nii.gz")
    return root


def _structure(image: np.ndarray) -> np.ndarray:
    """The image without its smooth part: anatomy (ventricles, sulci) rather than the head's outline,
    which looks alike at every turn."""
    return image - ndimage.gaussian_filter(image, 3)


def _correlations(image: np.ndarray, reference: np.ndarray) -> list[float]:
    """Correlation of `reference`'s structure with `image`'s turned by 0°, 90°, 180°, 270°."""
    return [
        float(np.corrcoef(np.rot90(_structure(image), k).ravel(), _structure(reference).ravel())[0, 1])
        for k in range(4)
    ]


def test_the_convention_is_anterior_up_and_left_at_column_zero():
    volume = np.zeros((3, 4, 1), np.float32)  # RAS+: axis 0 left → right, axis 1 posterior → anterior
    volume[0, 3, 0] = 1.0  # the leftmost, most anterior voxel
    assert np.argwhere(axial_slice(volume, 0, "test")).tolist() == [[0, 0]]


@pytest.mark.parametrize("source", ["atlas", "ixi"])
def test_phantom_slices_match_the_adapters_slice_of_the_same_template_without_rotation(template_release_trees, source):
    context = DatasetContext(64, template_release_trees / source)
    if source == "atlas":
        real = load_cases(atlas.open_dataset({"exclude_artefacts": "false"}, context), "test")[0].image
    else:  # one scan: the seeded split puts it in train
        real = load_cases(ixi.open_dataset({}, context), "train")[0].image
    phantom = registry.datasets.get("brain-phantom").open(SMALL_PHANTOM, DatasetContext(64, None))
    # the mean of 16 deformed slices of several heights (single slices vary too much to tell 0° from 180°)
    average = np.mean([case.image for case in load_cases(phantom, "train")[:16]], axis=0)
    correlations = _correlations(average, real)
    assert int(np.argmax(correlations)) == 0, correlations
    assert correlations[0] > max(correlations[1:]) + 0.1, correlations
