import pytest
import torch
from conftest import assert_finds_the_lesions

from anobench import registry
from anobench.api import Batch, MethodContext
from anobench.errors import AnobenchError
from anobench.methods.thor import maps as thor_maps


def thor(checkpoint, **options):
    context = MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), checkpoint)
    return registry.methods.get("thor").create({key: str(value) for key, value in options.items()}, context)


def test_reference_protocol_takes_maps_every_50_steps_and_blends_at_h(denoiser_checkpoint):
    settings = thor(denoiser_checkpoint, stride=1, perceptual="ssim").settings()
    assert settings["t0"] == 350
    assert settings["map_steps"] == [350, 300, 250, 200, 150, 100, 50, 0]
    assert settings["harmonization_steps"] == [300, 150, 50]
    assert settings["smoothing_sigma"] == 1.0 and settings["morphology_kernel"] == 7
    assert settings["perceptual"] == "ssim"


def test_simplex_preset_starts_at_250_and_harmonizes_every_50_steps(simplex_checkpoint):
    settings = thor(simplex_checkpoint, noise="simplex", stride=1, perceptual="none").settings()
    assert settings["t0"] == 250
    assert settings["harmonization_steps"] == [200, 150, 100, 50]
    assert settings["map_steps"] == [250, 200, 150, 100, 50, 0]


def test_default_backend_is_the_same_on_every_machine_and_auto_says_what_it_used(denoiser_checkpoint, tmp_path):
    import warnings

    from anobench.errors import AnobenchError

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default depends on nothing on disk: no fallback, no warning
        settings = thor(denoiser_checkpoint).settings()
    assert settings["perceptual_requested"] == "unet" and settings["perceptual"] == "unet"
    with pytest.warns(UserWarning, match="replaced by `unet`"):
        settings = thor(denoiser_checkpoint, perceptual="auto").settings()
    assert settings["perceptual_requested"] == "auto" and settings["perceptual"] == "unet"
    with pytest.raises(AnobenchError, match="squeezenet1_1-b8a52dc0.pth"):
        thor(denoiser_checkpoint, perceptual="lpips-squeeze", lpips_weights=tmp_path / "none.pth")


def test_lpips_double_scaling_follows_the_protocol_unless_set(denoiser_checkpoint, fake_squeezenet_weights):
    def scaling(**options):
        method = thor(denoiser_checkpoint, perceptual="lpips-squeeze", lpips_weights=fake_squeezenet_weights, **options)
        return method.settings()["lpips_double_scaling"], method.perceptual.double_scaling

    assert scaling() == (True, True)  # reference = released: LPIPS sees 4x − 3
    assert scaling(protocol="paper") == (False, False)
    assert scaling(protocol="paper", lpips_double_scaling=True) == (True, True)


def test_paper_protocol_takes_maps_at_h_only(denoiser_checkpoint):
    assert thor(denoiser_checkpoint, protocol="paper", stride=1, perceptual="none").settings()["map_steps"] == [
        300,
        150,
        50,
    ]
    with pytest.raises(AnobenchError, match="harmonization step at or below T0"):
        thor(denoiser_checkpoint, protocol="paper", t0=40, perceptual="none")


@pytest.fixture(scope="module")
def fast_thor(denoiser_checkpoint):
    return thor(denoiser_checkpoint, t0=100, harmonization="50", stride=25, perceptual="unet")


def test_maps_are_bounded_and_cost_the_same_calls_as_ddpm(fast_thor):
    images = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        prediction = fast_thor.predict(Batch(images, ["a", "b"], seed=0))
    assert prediction.maps.shape == images.shape
    assert float(prediction.maps.min()) >= 0 and float(prediction.maps.max()) <= float(torch.tensor(0.999))
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


def test_batch_coupling_reproduces_the_released_batch_dependence(denoiser_checkpoint):
    coupled = thor(denoiser_checkpoint, t0=100, harmonization="50", stride=25, perceptual="ssim", batch_coupling=True)
    independent = thor(denoiser_checkpoint, t0=100, harmonization="50", stride=25, perceptual="ssim")
    images = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    images[1] *= 0.5  # a darker neighbour: a different maximum and different smoothing input
    with torch.inference_mode():
        first_alone = independent.predict(Batch(images[:1], ["x"], seed=2)).maps[0]
        coupled_alone = coupled.predict(Batch(images[:1], ["x"], seed=2)).maps[0]
        coupled_pair = coupled.predict(Batch(images, ["x", "y"], seed=2)).maps[0]
        independent_pair = independent.predict(Batch(images, ["x", "y"], seed=2)).maps[0]
    torch.testing.assert_close(coupled_alone, first_alone, rtol=0, atol=1e-5)  # batch size 1: the same
    torch.testing.assert_close(independent_pair, first_alone, rtol=0, atol=1e-4)
    assert float((coupled_pair - first_alone).abs().max()) > 1e-2  # the neighbour changed image x's map


def test_simplex_thor_runs_with_simplex_reverse_noise(simplex_checkpoint):
    method = thor(simplex_checkpoint, noise="simplex", t0=60, harmonization="50", stride=20, perceptual="none")
    images = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        prediction = method.predict(Batch(images, ["s"], seed=0))
    assert prediction.nfe == 4 and prediction.maps.shape == images.shape


@pytest.mark.parametrize("protocol, map_steps", [("reference", [100, 50, 0]), ("paper", [50])])
def test_harmonization_renoises_the_blend_at_level_t_with_the_initial_noise(
    denoiser_checkpoint, monkeypatch, protocol, map_steps
):
    method = thor(denoiser_checkpoint, t0=100, harmonization="50", stride=25, perceptual="ssim", protocol=protocol)
    model = method.model
    noised, network_inputs, composed, averaged = [], [], [], []
    original_q_sample, original_predict = method.schedule.q_sample, model.predict
    original_anomaly_map, original_mean = method.anomaly_map, thor_maps.harmonic_mean

    def spy_q_sample(x0, t, noise):
        result = original_q_sample(x0, t, noise)
        noised.append((t, noise.clone(), result.clone()))
        return result

    def spy_predict(x_t, t):
        network_inputs.append((t, x_t.clone()))
        return original_predict(x_t, t)

    def spy_anomaly_map(images, estimate):
        composed.append(original_anomaly_map(images, estimate))
        return composed[-1]

    def spy_mean(maps):
        averaged.append(len(maps))
        return original_mean(maps)

    monkeypatch.setattr(method.schedule, "q_sample", spy_q_sample)
    monkeypatch.setattr(model, "predict", spy_predict)
    monkeypatch.setattr(method, "anomaly_map", spy_anomaly_map)
    monkeypatch.setattr(thor_maps, "harmonic_mean", spy_mean)
    images = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        prediction = method.predict(Batch(images, ["only"], seed=0))
    assert method.settings()["map_steps"] == map_steps and averaged == [len(map_steps)]
    stacked = torch.stack(composed).double()  # eq. (5) by hand: 0 wherever one map is 0, as scipy's hmean
    by_hand = torch.where((stacked > 0).all(0), len(composed) / (1 / stacked).sum(0), torch.zeros_like(stacked[0]))
    expected = by_hand.float().clamp(0, thor_maps.FINAL_MAP_CEILING)
    torch.testing.assert_close(prediction.maps, expected)
    assert [t for t, _, _ in noised] == [100, 50]  # the jump to T0, then the blend at H = {50}
    torch.testing.assert_close(noised[1][1], noised[0][1])  # the same ε as the jump to T0
    after_blend = dict(network_inputs)[25]  # the step after t = 50 starts from the re-noised blend
    torch.testing.assert_close(after_blend, noised[1][2])


# bf16 against fp32 maps of THOR (T0 = 100, H = {50}, UNet features) on `lesion_slices`, measured on an
# AMD EPYC (2 cores) with each of torch's CPU kernel sets (ATEN_CPU_CAPABILITY default, avx2, avx512): at
# most 4.2e-3 to 5.9e-3 apart, 4.4e-5 to 5.9e-5 on average (a zeroed network: exactly 0); bounds at 3.4×
# and 5× the largest
BF16_MAX, BF16_MEAN = 0.02, 3e-4


@pytest.mark.acting_network
def test_bf16_autocast_keeps_thors_maps_close_to_fp32(denoiser_checkpoint, lesion_slices):
    """Autocast covers the denoiser calls (perceptual features and map operations stay float32)."""
    from dataclasses import replace

    context = MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), denoiser_checkpoint)
    options = {"t0": "100", "harmonization": "50", "stride": "25", "perceptual": "unet"}
    create = registry.methods.get("thor").create
    images, masks = lesion_slices
    batch = Batch(images, ["a", "b", "c", "d"], seed=0)
    with torch.inference_mode():
        exact = create(options, context).predict(batch).maps
        reduced = create(options, replace(context, precision="bf16")).predict(batch).maps
    assert_finds_the_lesions(exact, masks)
    difference = (reduced - exact).abs()
    assert 0 < float(difference.max()) < BF16_MAX and float(difference.mean()) < BF16_MEAN
