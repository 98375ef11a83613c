"""pDDPM against the official code: golden arrays made by running the release's `test_step` once on
a stub network with injected noise (see golden/pddpm-release.json, bench/golden/pddpm_map.py)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from anobench.api import Batch
from anobench.diffusion.model import DiffusionModel
from anobench.diffusion.patches import patch_layout
from anobench.diffusion.presets import get_preset
from anobench.methods.pddpm.method import PDDPM, PDDPMConfig
from anobench.training.objectives import INPUT_RANGE, schedule_for

GOLDEN = np.load(Path(__file__).parent / "golden" / "pddpm-release.npz")
SIDE, PATCH = GOLDEN["clean"].shape[-1], 16


class InjectedNoise:
    """The golden run's one noise field, for every image (the release draws one per volume)."""

    def __init__(self, case_ids, seed, device) -> None:
        self.count = len(case_ids)

    def sample(self, kind, shape, timestep):
        return torch.from_numpy(GOLDEN["noise"]).expand(self.count, *shape).clone()


def stub_network(x, t):
    """The golden run's stub: a 3×3 mean that sees each cell's clean context, overshooting [-1, 1]."""
    smoothed = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    return 1.1 * smoothed + 0.15 - 0.0003 * t.float()[:, None, None, None]


def released_pddpm(monkeypatch, **options) -> PDDPM:
    model = DiffusionModel(
        get_preset("cpu-small"), schedule_for("patched"), INPUT_RANGE, "simplex-2d", torch.device("cpu")
    )
    model.network = stub_network
    config = PDDPMConfig(**options)
    method = PDDPM.__new__(PDDPM)
    method.model, method.checkpoint, method.config, method.max_batch, method.noise = model, {}, config, 5, "simplex-2d"
    method.layout = patch_layout(SIDE, SIDE, PATCH, config.stitching)
    method.windows = method.layout.window_masks()
    monkeypatch.setattr("anobench.methods.pddpm.method.CaseRandom", InjectedNoise)
    return method


def predict(method: PDDPM):
    with torch.inference_mode():
        return method.predict(Batch(torch.from_numpy(GOLDEN["clean"]), ["z0", "z1"], 0))


def test_the_cosine_schedule_is_the_releases(monkeypatch):
    alpha_bar = float(released_pddpm(monkeypatch).model.schedule.alpha_bar(499))
    np.testing.assert_allclose(alpha_bar, GOLDEN["alphas_cumprod"][0], rtol=1e-6)


@pytest.mark.parametrize(("stitching", "golden"), [("truncate", "truncate"), ("cut-release", "cut")])
def test_the_reconstruction_and_map_are_the_releases(monkeypatch, stitching, golden):
    prediction = predict(released_pddpm(monkeypatch, stitching=stitching))
    assert GOLDEN[f"{golden}_reconstruction"].min() < 0  # the stub overshoots: clamping would change the map
    np.testing.assert_allclose(prediction.maps, GOLDEN[f"{golden}_map"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(prediction.reconstructions, GOLDEN[f"{golden}_reconstruction"].clip(0, 1), atol=1e-5)
    assert prediction.nfe == 9


def test_each_departure_from_the_release_changes_the_map(monkeypatch):
    """The options that leave the release each move the map past the tolerance: the parity test
    above fails if a released behaviour is changed back."""
    for options in ({"clamp_reconstruction": True}, {"noise_precision": "float32"}, {"stitching": "cut"}):
        maps = predict(released_pddpm(monkeypatch, **options)).maps.numpy()
        golden = GOLDEN["cut_map"] if options.get("stitching") == "cut" else GOLDEN["truncate_map"]
        assert np.abs(maps - golden).max() > 1e-4, options


def test_the_releases_avg_is_not_the_mean_of_the_windows(monkeypatch):
    """The release divides its running sum by the cover count after every window: anobench's `avg`
    is the mean over the covering windows, and differs from the release where windows overlap."""
    mean = predict(released_pddpm(monkeypatch, stitching="avg")).reconstructions.numpy()
    released = GOLDEN["avg_reconstruction"].clip(0, 1)
    layout = patch_layout(SIDE, SIDE, PATCH, "avg")
    single = (layout.window_masks().sum(0) == 1).numpy()
    np.testing.assert_allclose(mean[..., single], released[..., single], rtol=0, atol=1e-5)  # one window: the same
    assert np.abs(mean - released)[..., ~single].max() > 0.05
