"""THOR's chain against the official code: golden arrays made by running the released loop once on
the stubs of `thor_golden` (see golden/thor-release-chain.json)."""

from pathlib import Path

import numpy as np
import pytest
import thor_golden
import torch

from anobench.diffusion.model import DiffusionModel
from anobench.diffusion.presets import get_preset
from anobench.diffusion.schedule import ScheduleConfig
from anobench.methods.thor import THOR, THORConfig
from anobench.perceptual import LearnedPerceptualSimilarity

GOLDEN = np.load(Path(__file__).parent / "golden" / "thor-release-chain.npz")
RUNS = {"gaussian": "350", "simplex": "250"}


class InjectedNoise:
    """The noise the golden run saw: ε first, then each reverse step's by its timestep."""

    def __init__(self) -> None:
        self.drawn = 0

    def sample(self, kind, shape, timestep):
        self.drawn += 1
        return thor_golden.injected_noise(None if self.drawn == 1 else timestep)


def released_thor(run: str, **overrides) -> THOR:
    """anobench's THOR at the released settings, on the stub denoiser fed [0, 1] images as released."""
    model = DiffusionModel(get_preset("cpu-small"), ScheduleConfig(), (0.0, 1.0), "gaussian", torch.device("cpu"))
    model.network = thor_golden.StubDenoiser()
    options = {"noise": run, "stride": 1, "smoothing_sigma": 2.0, "morphology_kernel": 13, **overrides}
    config = THORConfig(**options)
    double_scaling = config.lpips_double_scaling is not False  # the stub network stands in for lpips-squeeze
    perceptual = LearnedPerceptualSimilarity("lpips-squeeze", thor_golden.StubLPIPS(), double_scaling)
    return THOR(config, model, thor_golden.SIDE, perceptual=perceptual)


def chain(method: THOR) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    maps: list[torch.Tensor] = []
    original = method.anomaly_map

    def kept(images, estimate):
        maps.append(original(images, estimate))
        return maps[-1]

    method.anomaly_map = kept  # type: ignore[method-assign]
    with torch.inference_mode():
        final, reconstruction = method.guided_chain(thor_golden.input_image(), InjectedNoise())
    return final[0, 0], reconstruction[0, 0], [m[0, 0] for m in maps]


def test_the_golden_input_is_the_stub_input():
    np.testing.assert_array_equal(GOLDEN["image"], thor_golden.input_image().numpy()[0, 0])


@pytest.mark.parametrize("run", list(RUNS))
def test_reference_protocol_reproduces_the_released_chain(run):
    method = released_thor(run)
    assert method.settings()["x0_clip"] == "released" and method.settings()["schedule_arithmetic"] == "float32"
    final, reconstruction, maps = chain(method)
    assert len(maps) == len(GOLDEN[f"{run}_maps"])
    for ours, theirs in zip(maps, GOLDEN[f"{run}_maps"]):
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=0, atol=1e-5)
    np.testing.assert_allclose(final.numpy(), GOLDEN[f"{run}_final_map"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(reconstruction.numpy(), GOLDEN[f"{run}_reconstruction"], rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "override, least",
    [
        ({"x0_clip": "input-range"}, 1e-2),
        ({"schedule_arithmetic": "float64"}, 1e-6),
        ({"lpips_double_scaling": False}, 1e-2),
    ],
)
def test_each_released_choice_matters(override, least):
    """Leaving any one released choice out moves the map away from the released one."""
    final, _, _ = chain(released_thor("gaussian", **override))
    assert float(np.abs(final.numpy() - GOLDEN["gaussian_final_map"]).max()) > least
