"""DDPM and AnoDDPM (THOR-paper protocol) against the THOR paper's released baseline code: golden
arrays made by running its `DDPM.get_anomaly` once on the stubs of `thor_golden` with injected noise
(see golden/ddpm-release.json, bench/golden/ddpm_map.py)."""

from pathlib import Path

import numpy as np
import pytest
import thor_golden
import torch

from anobench.api import Batch
from anobench.diffusion.model import DiffusionModel
from anobench.diffusion.noise import noise_kind
from anobench.diffusion.presets import get_preset
from anobench.diffusion.reconstruction import PartialReconstruction
from anobench.diffusion.schedule import ScheduleConfig

GOLDEN = np.load(Path(__file__).parent / "golden" / "ddpm-release.npz")
RUNS = {"ddpm": (350, "gaussian", 400_000), "anoddpm": (250, "simplex", 500_000)}  # T0, noise, first draw's key
RELEASED = {"schedule_arithmetic": "float32", "x0_clip": "released", "clamp_reconstruction": False}


class NoiseSequence:
    def __init__(self, key: int) -> None:
        self.key, self.count = key, 0

    def __call__(self, *args, **kwargs) -> "NoiseSequence":
        return self

    def sample(self, kind, shape, timestep):
        self.count += 1
        return torch.from_numpy(thor_golden.hashed_uniform(self.key + self.count - 1))[None, None]


def reconstruction(monkeypatch, run: str, **options) -> PartialReconstruction:
    """The chain DDPM and AnoDDPM configure, on the stub denoiser fed [0, 1] images as released."""
    t0, noise, key = RUNS[run]
    model = DiffusionModel(get_preset("cpu-small"), ScheduleConfig(), (0.0, 1.0), noise, torch.device("cpu"))
    model.network = thor_golden.StubDenoiser()
    chain = PartialReconstruction.__new__(PartialReconstruction)
    settings = {**RELEASED, **options}
    chain.model, chain.checkpoint, chain.t0, chain.stride, chain.sampler = model, None, t0, 1, "ddpm"
    chain.error, chain.noise = "absolute", noise_kind(noise)
    chain.schedule = model.schedule.with_arithmetic(settings["schedule_arithmetic"])
    chain.x0_clip, chain.clamp_reconstruction = settings["x0_clip"], settings["clamp_reconstruction"]
    monkeypatch.setattr("anobench.diffusion.sampler.CaseRandom", NoiseSequence(key))
    return chain


def predict(chain: PartialReconstruction):
    with torch.inference_mode():
        return chain.predict(Batch(thor_golden.input_image(), ["case"], 0))


@pytest.mark.parametrize("run", RUNS)
def test_the_map_is_the_released_baselines(monkeypatch, run):
    prediction = predict(reconstruction(monkeypatch, run))
    assert prediction.nfe == RUNS[run][0] + 1
    assert GOLDEN[f"{run}_reconstruction"].min() < 0  # x̂0 clipped to [−1, 1] on [0, 1] images: the clips differ
    np.testing.assert_allclose(prediction.maps, GOLDEN[f"{run}_map"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(prediction.reconstructions, GOLDEN[f"{run}_reconstruction"].clip(0, 1), atol=1e-5)


@pytest.mark.parametrize(
    "options", [{"schedule_arithmetic": "float64"}, {"x0_clip": "input-range"}, {"clamp_reconstruction": True}]
)
def test_each_of_anobenchs_defaults_leaves_the_release(monkeypatch, options):
    """The defaults anobench keeps (float64, the input range's clip, the clamped reconstruction)
    each move the map past the tolerance: the options are what reproduces the release."""
    maps = predict(reconstruction(monkeypatch, "ddpm", **options)).maps.numpy()
    assert np.abs(maps - GOLDEN["ddpm_map"]).max() > 1e-4
