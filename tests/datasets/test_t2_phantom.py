"""brain-phantom-t2: T2-like slices whose lesions are bright, three pathologies over one healthy set."""

import numpy as np
import pytest

from anobench.api import DatasetContext
from anobench.datasets import t2_phantom
from anobench.errors import AnobenchError
from anobench.store.rows import size_bin

SMALL = {"n_train": "4", "n_val": "2", "n_test_healthy": "2", "n_test": "12"}


def open_phantom(**options):
    return t2_phantom.open_dataset({**SMALL, **options}, DatasetContext(128))


@pytest.mark.parametrize("pathology", ["tumour", "ms", "wmh"])
def test_lesions_are_bright_inside_the_brain_and_fill_the_size_bins(pathology):
    dataset = open_phantom(pathology=pathology)
    assert (dataset.evaluation.modality, dataset.evaluation.lesion_contrast) == ("t2", "bright")
    cases = [dataset.load_case("test", case_id) for case_id in dataset.case_ids("test")]
    brighter = []
    for case in cases:
        assert case.mask.any()
        ring = np.zeros_like(case.mask)  # the tissue just around the lesion
        rows, cols = np.nonzero(case.mask)
        ring[max(rows.min() - 6, 0) : rows.max() + 7, max(cols.min() - 6, 0) : cols.max() + 7] = True
        ring &= ~case.mask & (case.image > 0.05)
        brighter.append(case.image[case.mask].mean() > case.image[ring].mean())
    assert np.mean(brighter) >= 0.8  # bright lesions (a few lie beside the fluid T2 shows brightest)
    bins = {size_bin(int(case.mask.sum()), 128, 128) for case in cases}
    assert {"small", "medium"} <= bins and (pathology == "ms" or "large" in bins)


def test_the_healthy_splits_do_not_depend_on_the_pathology_and_unknown_ones_are_refused():
    tumour, ms = open_phantom(pathology="tumour"), open_phantom(pathology="ms")
    for split in ("train", "val", "test-healthy"):
        for first, second in zip(tumour.case_ids(split), ms.case_ids(split)):
            assert np.array_equal(tumour.load_case(split, first).image, ms.load_case(split, second).image)
    assert not np.array_equal(tumour.load_case("test", tumour.case_ids("test")[0]).mask,
                              ms.load_case("test", ms.case_ids("test")[0]).mask)  # fmt: skip
    with pytest.raises(AnobenchError, match="pathology"):
        open_phantom(pathology="stroke")
