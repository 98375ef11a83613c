"""ANDi's building blocks on tiny arrays: its step deviations and their aggregation, and the pyramidal
noise it is trained on, against the official code's (golden arrays, see golden/andi-release.json);
then its checkpoint checks and a short run."""

from pathlib import Path

import numpy as np
import pytest
import torch

from anobench import registry
from anobench.api import Batch, MethodContext
from anobench.diffusion.model import DiffusionModel
from anobench.diffusion.presets import get_preset
from anobench.diffusion.pyramid_noise import PyramidNoise, level_sides
from anobench.diffusion.schedule import ScheduleConfig
from anobench.errors import AnobenchError
from anobench.methods.andi.method import DeviationAggregate, transition_deviation

GOLDEN = np.load(Path(__file__).parent / "golden" / "andi-release.npz")
FIRST_STEP = 75  # the golden run's range: t = 75 … 80


def stub_model() -> DiffusionModel:
    model = DiffusionModel(get_preset("cpu-small"), ScheduleConfig(), (-1.0, 1.0), "pyramid", torch.device("cpu"))
    model.network = lambda x, t: 0.5 * x + 0.001 * t.float()[:, None, None, None]  # the golden run's stub
    return model


def aggregated(deviations, geometric: bool) -> torch.Tensor:
    aggregate = DeviationAggregate(geometric)
    for deviation in deviations:
        aggregate.add(deviation)
    return aggregate.result()


def test_deviations_and_their_means_match_the_released_code():
    model, clean = stub_model(), torch.from_numpy(GOLDEN["clean"])
    release = model.schedule.with_arithmetic("float32")
    ours, exact = [], []
    for step, noise in enumerate(torch.from_numpy(GOLDEN["noise"])):
        ours.append(transition_deviation(model, clean, FIRST_STEP + step, noise, release))
        np.testing.assert_allclose(ours[-1], GOLDEN["deviations"][:, step], rtol=1e-5, atol=0)
        exact.append(transition_deviation(model, clean, FIRST_STEP + step, noise))
    assert model.meter.calls == 2 * len(GOLDEN["noise"])  # one network call per timestep
    released = torch.from_numpy(GOLDEN["deviations"]).unbind(dim=1)
    np.testing.assert_allclose(aggregated(released, geometric=True), GOLDEN["gmean"], rtol=1e-5)
    np.testing.assert_allclose(aggregated(released, geometric=False), GOLDEN["mean"], rtol=1e-6)
    np.testing.assert_allclose(aggregated(ours, geometric=True), GOLDEN["gmean"], rtol=1e-5)
    # The release subtracts two float32 means near 1 whose difference is ~1e-3 (exact to ~1e-10
    # absolute); the closed form (arithmetic=exact) differs by that rounding, carried into the logarithms
    np.testing.assert_allclose(aggregated(exact, geometric=True), GOLDEN["gmean"], rtol=2e-3)
    assert np.abs(aggregated(exact, geometric=True).numpy() / GOLDEN["gmean"] - 1).max() > 1e-5


def test_a_network_that_predicts_the_true_noise_deviates_nowhere():
    model, clean = stub_model(), torch.from_numpy(GOLDEN["clean"])
    noise = torch.from_numpy(GOLDEN["noise"][0])
    model.network = lambda x, t: noise
    assert float(transition_deviation(model, clean, 150, noise).abs().max()) == 0.0


def test_pyramid_noise_matches_the_released_recursion():
    factors = (2 + 2 * GOLDEN["pyramid_u"]).tolist()
    grids = [torch.from_numpy(GOLDEN[f"pyramid_grid_{level}"]) for level in range(len(factors))]
    assert level_sides(32, factors) == [grid.shape[-1] for grid in grids] == [32, 9, 1]  # level 0 is full size
    composed = PyramidNoise().compose(torch.from_numpy(GOLDEN["pyramid_white"]), grids)
    np.testing.assert_allclose(composed, GOLDEN["pyramid"], rtol=1e-5, atol=1e-6)


def test_pyramid_noise_is_unit_scale_spatially_correlated_and_seeded():
    noise = PyramidNoise()
    draws = noise.draw_batch([torch.Generator().manual_seed(seed) for seed in range(32)], (1, 64, 64), 0, "cpu")
    assert draws.shape == (32, 1, 64, 64)
    np.testing.assert_allclose(draws.flatten(1).std(dim=1), 1.0, rtol=1e-5)  # each image scaled to unit spread
    neighbours = torch.corrcoef(torch.stack([draws[..., :, :-1].flatten(), draws[..., :, 1:].flatten()]))[0, 1]
    assert 0.1 < neighbours < 0.9  # white noise would give 0, a single coarse grid close to 1
    assert torch.equal(noise.draw(torch.Generator().manual_seed(3), (1, 64, 64), 0), draws[3])
    with pytest.raises(ValueError, match="square"):
        noise.draw(torch.Generator(), (1, 64, 32), 0)


def test_the_checkpoint_must_be_trained_on_the_noise_named(denoiser_checkpoint):
    from anobench import registry
    from anobench.api import MethodContext

    context = MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), denoiser_checkpoint)
    with pytest.raises(AnobenchError, match="trained with gaussian noise, not pyramid"):
        registry.methods.get("andi").create({}, context)
    with pytest.raises(AnobenchError, match="start must be below stop"):
        registry.methods.get("andi").create({"trained_noise": "gaussian", "start": "90", "stop": "80"}, context)


def test_a_short_range_scores_the_phantom_one_call_per_timestep(denoiser_checkpoint, tmp_path):
    from conftest import SMALL_PHANTOM

    from anobench.running.harness import RunRequest, run
    from anobench.store.results import read_results

    options = {"trained_noise": "gaussian", "start": "75", "stop": "78"}
    request = RunRequest(
        "andi",
        "brain-phantom",
        checkpoint=denoiser_checkpoint,
        dataset_options=SMALL_PHANTOM,
        method_options=options,
        out=tmp_path / "andi",
    )
    run(request)
    results = read_results(tmp_path / "andi")
    assert (results.rows["nfe"] == 3).all() and results.maps.shape == (12, 64, 64)
    assert np.isfinite(results.maps).all() and (results.maps >= 0).all() and results.maps.max() > 0


class ReleasedNoise:
    """The golden run's Gaussian draws, one per timestep from t = 75, in place of the method's noise."""

    name = "gaussian"

    def draw_batch(self, generators, shape, timestep, device):
        return torch.from_numpy(GOLDEN["noise"][timestep - FIRST_STEP]).to(device)


def test_predict_gives_the_released_map(denoiser_checkpoint):
    """The golden run through the public method: its network the release run's stub, its noise the
    recorded draws; `predict` must give the release's geometric mean (no median filter: the released
    evaluation applies its own afterwards)."""
    context = MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), denoiser_checkpoint)
    options = {"start": str(FIRST_STEP), "stop": str(FIRST_STEP + len(GOLDEN["noise"])), "median": "1",
               "trained_noise": "gaussian"}  # fmt: skip
    method = registry.methods.get("andi").create(options, context)
    method.model.network = stub_model().network
    method.noise = ReleasedNoise()
    clean_unit = (torch.from_numpy(GOLDEN["clean"]) + 1) / 2  # the golden clean image is in the network's units
    prediction = method.predict(Batch(clean_unit, ["a", "b"], 0))
    # 1e-4: the clean image passes through the unit range and back (one float32 rounding, measured to
    # move one of 512 values by 5e-5 once the release's float32 means difference amplifies it)
    np.testing.assert_allclose(prediction.maps.numpy(), GOLDEN["gmean"], rtol=1e-4)
    assert prediction.nfe == len(GOLDEN["noise"])
