import pytest
import torch

from anobench import registry
from anobench.api import Batch, MethodContext
from anobench.errors import AnobenchError


def thor(checkpoint, **options):
    context = MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), checkpoint)
    return registry.methods.get("thor").create({key: str(value) for key, value in options.items()}, context)


def test_reference_protocol_takes_maps_every_50_steps_and_blends_at_h(tiny_checkpoint):
    settings = thor(tiny_checkpoint, stride=1).settings()
    assert settings["map_steps"] == [350, 300, 250, 200, 150, 100, 50, 0]
    assert settings["harmonization_steps"] == [300, 150, 50]
    assert settings["smoothing_sigma"] == 1.0 and settings["morphology_kernel"] == 7
    assert settings["perceptual"] == "ssim"


def test_paper_protocol_takes_maps_at_h_only(tiny_checkpoint):
    assert thor(tiny_checkpoint, protocol="paper", stride=1).settings()["map_steps"] == [300, 150, 50]
    with pytest.raises(AnobenchError, match="harmonization step at or below T0"):
        thor(tiny_checkpoint, protocol="paper", t0=40)


@pytest.fixture(scope="module")
def fast_thor(tiny_checkpoint):
    return thor(tiny_checkpoint, t0=100, harmonization="50", stride=25)


def test_maps_are_bounded_and_cost_the_same_calls_as_ddpm(fast_thor):
    images = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        prediction = fast_thor.predict(Batch(images, ["a", "b"], seed=0))
    assert prediction.maps.shape == images.shape
    assert float(prediction.maps.min()) >= 0 and float(prediction.maps.max()) <= 0.999
    assert prediction.nfe == 5  # 100, 75, 50, 25, 0
    assert fast_thor.settings()["map_steps"] == [100, 50, 0]


def test_batch_invariant(fast_thor):
    images = torch.rand(3, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    ids = ["x", "y", "z"]
    with torch.inference_mode():
        together = fast_thor.predict(Batch(images, ids, seed=2)).maps
        alone = [fast_thor.predict(Batch(images[i : i + 1], ids[i : i + 1], seed=2)).maps[0] for i in range(3)]
    for i in range(3):
        torch.testing.assert_close(alone[i], together[i], rtol=0, atol=1e-4)


def test_harmonization_renoises_the_blend_to_level_t_with_the_initial_noise(fast_thor, monkeypatch):
    model = fast_thor.model
    noised, network_inputs = [], []
    original_q_sample, original_predict = model.schedule.q_sample, model.predict_noise

    def spy_q_sample(x0, t, noise):
        result = original_q_sample(x0, t, noise)
        noised.append((t, noise.clone(), result.clone()))
        return result

    def spy_predict(x_t, t):
        network_inputs.append((t, x_t.clone()))
        return original_predict(x_t, t)

    monkeypatch.setattr(model.schedule, "q_sample", spy_q_sample)
    monkeypatch.setattr(model, "predict_noise", spy_predict)
    images = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        fast_thor.predict(Batch(images, ["only"], seed=0))
    assert [t for t, _, _ in noised] == [100, 50]  # the jump to T0, then the blend at H = {50}
    torch.testing.assert_close(noised[1][1], noised[0][1])  # the same ε as the jump to T0
    after_blend = dict(network_inputs)[25]  # the step after t = 50 starts from the re-noised blend
    torch.testing.assert_close(after_blend, noised[1][2])
