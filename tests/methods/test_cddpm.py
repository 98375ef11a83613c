"""cDDPM's building blocks on tiny arrays: the noise-ensemble reconstruction against the official
code's (golden arrays, see golden/cddpm-release.json), the conditioned network and its loss, and its
checkpoint checks; then a short run."""

from pathlib import Path

import numpy as np
import pytest
import torch

from anobench.api import Batch
from anobench.diffusion.condition import ConditionConfig, ConditionedUNet, condition_for
from anobench.diffusion.model import DiffusionModel
from anobench.diffusion.noise import noise_kind
from anobench.diffusion.presets import build_unet, get_preset
from anobench.errors import AnobenchError
from anobench.methods.cddpm.method import CDDPM, CDDPMConfig
from anobench.training.objectives import conditioned_loss, schedule_for

GOLDEN = np.load(Path(__file__).parent / "golden" / "cddpm-release.npz")
POST = np.load(Path(__file__).parent / "golden" / "cddpm-release-postprocessing.npz")


class InjectedNoise:
    """The golden run's noise, one draw per ensemble timestep in order."""

    def __init__(self) -> None:
        self.draws = iter(torch.from_numpy(GOLDEN["noise"]))

    def __call__(self, *args, **kwargs) -> "InjectedNoise":
        return self

    def sample(self, kind, shape, timestep):
        return next(self.draws)


def released_cddpm(monkeypatch) -> CDDPM:
    """anobench's cDDPM on a stub network that reads the golden run's condition features, with a
    stub encoder that returns them (and counts its calls in `method.encodings`)."""
    model = DiffusionModel(
        get_preset("cpu-small"),
        schedule_for("conditioned"),
        (-1.0, 1.0),
        "simplex-2d",
        torch.device("cpu"),
        condition=condition_for("cpu-small", 128),
    )
    clean, features = torch.from_numpy(GOLDEN["clean"]) * 2 - 1, torch.from_numpy(GOLDEN["condition"])

    encodings = []

    def encoder(given_clean):
        assert torch.equal(given_clean, clean)  # the encoder sees the clean image, in the network's units
        encodings.append(given_clean)
        return features

    def stub(x, t, features):
        return 0.8 * x + 0.1 * features.mean(dim=1)[:, None, None, None] - 0.0002 * t.float()[:, None, None, None]

    model.unet.encode, model.network = encoder, stub
    method = CDDPM.__new__(CDDPM)
    method.encodings = encodings
    # the golden run handed its float32 noise to the diffusion directly (the release's gen_noise, which
    # rounds it to float16, was not called): anobench's default rounding is tested apart
    method.model, method.checkpoint = model, {}
    method.config = CDDPMConfig(postprocess=False, noise_precision="float32")
    method.noise = None
    monkeypatch.setattr("anobench.methods.cddpm.method.CaseRandom", InjectedNoise())
    return method


def test_the_ensemble_reconstruction_and_map_match_the_released_code(monkeypatch):
    method = released_cddpm(monkeypatch)
    alpha_bar = [float(method.model.schedule.alpha_bar(t - 1)) for t in (250, 500, 750)]
    np.testing.assert_allclose(alpha_bar, GOLDEN["alphas_cumprod"], rtol=1e-5)  # the same cosine schedule
    prediction = method.predict(Batch(torch.from_numpy(GOLDEN["clean"]), ["a", "b"], 0))
    np.testing.assert_allclose(prediction.maps, GOLDEN["map"], atol=2e-6)
    np.testing.assert_allclose(prediction.reconstructions, GOLDEN["reconstruction"].clip(0, 1), atol=2e-6)
    assert prediction.nfe == 3 and len(method.encodings) == 1  # three denoiser calls on one encoding, as released


def test_the_noise_is_rounded_to_float16_as_the_releases_generator_returns_it(monkeypatch):
    method = released_cddpm(monkeypatch)
    method.config = CDDPMConfig(postprocess=False)
    seen = []
    q_sample = method.model.schedule.q_sample
    monkeypatch.setattr(
        method.model.schedule, "q_sample", lambda x, t, noise: seen.append(noise) or q_sample(x, t, noise)
    )
    method.predict(Batch(torch.from_numpy(GOLDEN["clean"]), ["a", "b"], 0))
    for drawn, golden in zip(seen, GOLDEN["noise"]):
        assert torch.equal(drawn, torch.from_numpy(golden).half().float()) and not torch.equal(
            drawn, torch.from_numpy(golden)
        )


def test_the_post_processing_is_the_released_evaluations():
    """The release's brain-mask erosion (W // 25) and median filter on a slice (golden), the data
    set's brain mask rather than the image's non-zero pixels, and the small components removed from
    the thresholded map only, as the volume board does."""
    from anobench.diffusion.postprocessing import postprocess_maps
    from anobench.evaluation.volumes import without_small_components

    residuals, images, brain = (torch.from_numpy(POST[name][:2, None]) for name in ("residuals", "images", "brain"))
    maps = postprocess_maps(residuals, images, brain).numpy()[:, 0]
    np.testing.assert_allclose(maps, POST["map"], rtol=0, atol=1e-7)
    assert np.abs(postprocess_maps(residuals, images).numpy()[:, 0] - POST["map"]).max() > 0.01  # image > 0: the skull
    assert np.abs(maps - POST["map_3d"][:2]).max() > 0.01  # the declared departure: 2-D slices, not 5×5×5 volumes
    removed = without_small_components(POST["map"] > POST["tau"])
    np.testing.assert_array_equal(removed, POST["thresholded_3d_removed"].astype(bool))
    assert (POST["map"] > POST["tau"]).sum() > removed.sum()  # something was removed
    old = postprocess_maps(residuals, images, brain, iterations=3, remove_small_components=True).numpy()[:, 0]
    assert np.abs(old - POST["map"]).max() > 1e-3  # anobench's rule before 2026-12-07 leaves the release


def test_the_network_follows_its_condition_and_checks_its_width():
    torch.manual_seed(0)
    network = ConditionedUNet(build_unet(get_preset("cpu-small")), condition_for("cpu-small", 128)).eval()
    for parameter in network.parameters():  # MONAI starts its output layers at zero: the output would be 0
        if not parameter.detach().abs().sum():
            torch.nn.init.normal_(parameter, std=0.05)
    x_t, t = torch.randn(2, 1, 64, 64), torch.tensor([10, 10])
    with torch.no_grad():
        one, other = network(x_t, t, torch.zeros(2, 1, 64, 64)), network(x_t, t, torch.ones(2, 1, 64, 64))
    assert one.shape == (2, 1, 64, 64) and not torch.allclose(one, other)  # the clean image steers the output
    with torch.no_grad():  # features encoded beforehand (inference) give what encoding in the call gives (training)
        torch.testing.assert_close(network(x_t, t, features=network.encode(torch.zeros(2, 1, 64, 64))), one)
    with pytest.raises(AnobenchError, match="one, not both"):
        network(x_t, t)
    with pytest.raises(AnobenchError, match="must equal the time embedding"):
        ConditionedUNet(build_unet(get_preset("cpu-small")), ConditionConfig("resnet18", 0.25, 64))


def test_the_loss_is_the_l1_error_of_x0_given_the_clean_image():
    x0 = torch.rand(4, 1, 8, 8) * 2 - 1
    alpha_bar = torch.linspace(0.99, 0.01, 1000)  # any ᾱ: an x0 prediction's loss does not depend on it
    seen = []

    def perfect(x, t, clean):
        seen.append(clean)
        return clean

    noise = noise_kind("gaussian")
    assert float(conditioned_loss(perfect, alpha_bar, x0, noise, torch.Generator().manual_seed(0))) == 0.0
    assert torch.equal(seen[0], x0)
    blank = conditioned_loss(lambda x, t, clean: torch.zeros_like(x), alpha_bar, x0, noise, torch.Generator())
    torch.testing.assert_close(blank, x0.abs().mean())


def test_checkpoints_of_other_schemes_are_refused_both_ways(denoiser_checkpoint, conditioned_checkpoint):
    from anobench import registry
    from anobench.api import MethodContext

    def context(path):
        return MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), path)

    with pytest.raises(AnobenchError, match="trained with --scheme full; this method needs a model conditioned"):
        registry.methods.get("cddpm").create({"noise": "gaussian"}, context(denoiser_checkpoint))
    with pytest.raises(AnobenchError, match="trained with --scheme conditioned"):
        registry.methods.get("pddpm").create({}, context(conditioned_checkpoint))
    with pytest.raises(AnobenchError, match="timesteps must be between 1 and 1000"):
        registry.methods.get("cddpm").create({"timesteps": "0,500"}, context(conditioned_checkpoint))


def test_a_checkpoint_with_another_condition_encoder_is_refused(conditioned_checkpoint, tmp_path):
    """A file trained before the preset's encoder changed (full-width ResNet-18 at cpu-small) would
    otherwise fail deep in the state dict or, worse, load into a differently shaped network."""
    from anobench.diffusion.checkpoint import load_model

    payload = torch.load(conditioned_checkpoint, weights_only=True)
    assert payload["config"]["condition"] == {"encoder": "resnet18", "widen_factor": 0.25, "features": 128}
    payload["config"]["condition"] = {"encoder": "resnet18", "features": 128}  # as the first cDDPM files stored it
    torch.save(payload, tmp_path / "older.pt")
    with pytest.raises(AnobenchError, match="different condition encoder .* train it again"):
        load_model(tmp_path / "older.pt", torch.device("cpu"))


def test_a_trained_cddpm_scores_the_phantom_in_three_calls(conditioned_checkpoint, tmp_path):
    from conftest import SMALL_PHANTOM

    from anobench.running.harness import RunRequest, run
    from anobench.store.results import read_results

    request = RunRequest(
        "cddpm",
        "brain-phantom",
        checkpoint=conditioned_checkpoint,
        dataset_options=SMALL_PHANTOM,
        out=tmp_path / "cddpm",
    )
    run(request)
    results = read_results(tmp_path / "cddpm")
    assert (results.rows["nfe"] == 3).all() and results.maps.shape == (12, 64, 64)
    assert (results.maps[results.images == 0] == 0).all()  # the eroded brain mask zeroes the background
