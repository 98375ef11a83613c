"""The intensity baseline against the official code (golden arrays from FeliMe/brain_sas_baseline's
own histogram equalisation, see golden/intensity-release.json), its contrast rule and its errors."""

from pathlib import Path

import numpy as np
import pytest
import torch

from anobench import registry
from anobench.api import Batch, MethodContext
from anobench.errors import AnobenchError

GOLDEN = np.load(Path(__file__).parent / "golden" / "intensity-release.npz")


def intensity(contrast_of_data=None, **options):
    context = MethodContext("brain-phantom", "cpu-small", 32, torch.device("cpu"), lesion_contrast=contrast_of_data)
    return registry.methods.get("intensity").create({k: str(v) for k, v in options.items()}, context)


def maps(method, images=GOLDEN["images"]):
    batch = Batch(torch.from_numpy(images)[:, None], [f"s{i}" for i in range(len(images))], 0)
    return method.predict(batch).maps[:, 0].numpy()


def test_the_bright_map_is_the_releases_equalised_slice():
    np.testing.assert_allclose(maps(intensity(contrast="bright")), GOLDEN["per_slice"], rtol=0, atol=1e-6)
    assert GOLDEN["per_slice"][0].max() == 1.0 and (GOLDEN["per_slice"][GOLDEN["images"] == 0] == 0).all()


def test_dark_lesions_score_one_minus_it_inside_the_brain_and_auto_reads_the_data_set():
    dark = maps(intensity("dark"))
    brain = GOLDEN["images"] > 0
    np.testing.assert_allclose(dark[brain], 1 - GOLDEN["per_slice"][brain], rtol=0, atol=1e-6)
    assert (dark[~brain] == 0).all()
    lesion = GOLDEN["images"][0] < 80 / 255  # the dark lesion (and no background) scores above the tissue
    assert dark[0][lesion & brain[0]].min() > dark[0][~lesion & brain[0]].max()
    assert intensity("dark").settings()["contrast"] == "dark"
    np.testing.assert_array_equal(maps(intensity("dark", contrast="bright")), maps(intensity(contrast="bright")))


def test_a_slice_is_equalised_alone_where_the_release_equalises_the_whole_scan():
    """The declared departure: the release's histogram spans the scan; a method sees slices."""
    alone = maps(intensity(contrast="bright"), GOLDEN["images"][:2])
    assert np.abs(alone - GOLDEN["per_volume"]).max() > 1e-3


def test_without_equalisation_the_map_is_the_image_and_an_unknown_contrast_is_named():
    images = GOLDEN["images"]
    np.testing.assert_array_equal(maps(intensity(contrast="bright", equalize=False)), images)
    with pytest.raises(AnobenchError, match="give --set contrast=dark .T1. or --set contrast=bright"):
        intensity(None)
    empty = maps(intensity(contrast="bright"), np.zeros((1, 32, 32), np.float32))
    assert not empty.any()
