"""brain-phantom-volumes: subjects as slabs of slices with 3-D lesions and brain masks, in a BIDS-like
NIfTI tree, scored with brain-phantom's denoisers and its held-out healthy subjects."""

import nibabel
import numpy as np
import pytest
from conftest import FAST_DDPM, assignments

from anobench import registry
from anobench.api import DatasetContext, load_cases, manifest_hash
from anobench.errors import AnobenchError
from anobench.store import folder as store
from anobench.store.results import read_results

SMALL = {"n_val": "1", "n_test_healthy": "1", "n_test": "3", "slices": "6"}


@pytest.fixture(scope="module")
def volumes():
    return registry.datasets.get("brain-phantom-volumes").open(SMALL, DatasetContext(image_size=64))


def test_subjects_are_slabs_of_slices_with_a_3d_lesion_and_a_brain_mask(volumes):
    assert volumes.splits == ("val", "test-healthy", "test")
    assert volumes.evaluation.volumes and volumes.evaluation.healthy_test_split == "test-healthy"
    cases = load_cases(volumes, "test")
    assert len(cases) == 18 and len({case.subject_id for case in cases}) == 3
    for subject in {case.subject_id for case in cases}:
        slab = [case for case in cases if case.subject_id == subject]
        assert [case.slice_index for case in slab] == list(range(6))
        lesion = np.stack([case.mask for case in slab])
        assert lesion.any() and (lesion.sum(axis=(1, 2)) > 0).sum() >= 2  # one lesion across slices
        brain = np.stack([case.brain_mask for case in slab])
        assert (lesion <= brain).mean() > 0.97  # lesions lie in the brain
    healthy = load_cases(volumes, "val")
    assert all(case.mask is None and case.brain_mask.any() for case in healthy)
    image = nibabel.load(volumes.root / "sub-V2001" / "anat" / "sub-V2001_T1w.nii")
    assert image.shape == (128, 128, 6) and image.get_data_dtype() == np.uint8
    with pytest.raises(AnobenchError, match="has no case"):
        volumes.load_case("test", "sub-V2001_z06")


def test_generation_is_a_pure_function_of_the_settings(volumes):
    again = registry.datasets.get("brain-phantom-volumes").open(SMALL, DatasetContext(image_size=64))
    assert manifest_hash(again) == manifest_hash(volumes)
    other = registry.datasets.get("brain-phantom-volumes").open({**SMALL, "seed": "1"}, DatasetContext(image_size=64))
    assert manifest_hash(other) != manifest_hash(volumes)


def test_a_run_keeps_slice_positions_brain_masks_and_the_held_out_healthy_subjects(cli, tmp_path):
    out = tmp_path / "run"
    result = cli(
        "run",
        "--method",
        "ddpm",
        "--dataset",
        "brain-phantom-volumes",
        *assignments("--data", SMALL),
        *assignments("--set", FAST_DDPM),
        "--healthy-split",
        "auto",
        "--latency-cases",
        "0",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr  # brain-phantom's shipped denoiser, as the data set declares
    results = read_results(out)
    assert results.rows["slice_index"].tolist() == list(range(6)) * 3
    assert results.brain_masks.shape == results.masks.shape == (18, 64, 64)
    assert len(read_results(out / store.HEALTHY_TEST).rows) == 6 and read_results(out / store.HEALTHY).brain_masks.any()
