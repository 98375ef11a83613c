"""AutoDDPM against the official code: golden arrays made by running the released
`get_autoDDPM_anomaly` once on the stubs of `thor_golden` with a fixed sequence of noise draws (see
golden/autoddpm-release.json, bench/golden/autoddpm_map.py)."""

from pathlib import Path

import numpy as np
import pytest
import thor_golden
import torch

from anobench.api import Batch
from anobench.diffusion.model import DiffusionModel
from anobench.diffusion.presets import get_preset
from anobench.diffusion.schedule import ScheduleConfig
from anobench.methods.autoddpm.method import AutoDDPM, AutoDDPMConfig
from anobench.perceptual import LearnedPerceptualSimilarity

GOLDEN = np.load(Path(__file__).parent / "golden" / "autoddpm-release.npz")
NOISE_KEY = 300_000  # bench/golden/autoddpm_map.py: the k-th draw is hashed_uniform(NOISE_KEY + k)
DRAWS = 902  # 1 + 200 coarse steps, 1 RePaint start, 50 × (5 known + 5 step + 4 re-noise)


class NoiseSequence:
    """The golden run's draws in order, whatever generator asks (both of AutoDDPM's)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *args, **kwargs) -> "NoiseSequence":
        return self

    def sample(self, kind, shape, timestep):
        self.count += 1
        return torch.from_numpy(thor_golden.hashed_uniform(NOISE_KEY + self.count - 1))[None, None]


def released_autoddpm(monkeypatch, **options) -> tuple[AutoDDPM, NoiseSequence]:
    """anobench's AutoDDPM as released on the stub denoiser fed [0, 1] images, with the stub LPIPS."""
    model = DiffusionModel(get_preset("cpu-small"), ScheduleConfig(), (0.0, 1.0), "gaussian", torch.device("cpu"))
    model.network = thor_golden.StubDenoiser()
    config = AutoDDPMConfig(stride=1, mask_threshold="image-percentile", perceptual="lpips-squeeze", **options)
    method = AutoDDPM.__new__(AutoDDPM)
    perceptual = LearnedPerceptualSimilarity("lpips-squeeze", thor_golden.StubLPIPS(), config.lpips_double_scaling)
    method.build(config, model, perceptual)
    method.threshold = None
    noise = NoiseSequence()
    monkeypatch.setattr("anobench.methods.autoddpm.method.CaseRandom", noise)
    return method, noise


def predict(method: AutoDDPM):
    with torch.inference_mode():
        return method.predict(Batch(thor_golden.input_image(), ["case"], 0))


def test_the_map_and_each_stage_are_the_releases(monkeypatch):
    method, noise = released_autoddpm(monkeypatch)
    prediction = predict(method)
    assert noise.count == DRAWS and prediction.nfe == 201 + 250
    extras = prediction.extras
    np.testing.assert_allclose(extras["coarse_reconstruction"], GOLDEN["coarse"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(extras["stage_one_map"], GOLDEN["stage_one_map"], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(extras["mask"], GOLDEN["mask"])
    assert 0 < GOLDEN["mask"].mean() < 1  # both parts exist (the stub LPIPS is large: τ clips to 1)
    inside = GOLDEN["mask"] > 0
    np.testing.assert_allclose(prediction.reconstructions[inside], GOLDEN["inpainted"].clip(0, 1)[inside], atol=1e-5)
    np.testing.assert_allclose(prediction.maps, GOLDEN["map"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "options",
    [
        {"schedule_arithmetic": "float64"},
        {"x0_clip": "input-range"},
        {"lpips_double_scaling": False},
        {"resample_from": 49},  # anobench's RePaint before 2026-12-07 started one index lower
    ],
)
def test_each_departure_from_the_release_moves_the_map(monkeypatch, options):
    """The options that leave the release move the map past the tolerance: the test above fails if
    a released behaviour is changed back."""
    method, _ = released_autoddpm(monkeypatch, **options)
    assert np.abs(predict(method).maps.numpy() - GOLDEN["map"]).max() > 1e-4
