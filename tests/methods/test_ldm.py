"""LDM's building blocks: the latent chain against the released loop (MONAI's DDPMScheduler stepped
as `scripts/ldm_sample.py` of JuliaWolleb/Anomaly_berdiff does, on a stub network), the two-stage
training and its resume across the stage switch, the checkpoint checks, the map against the released
evaluation script; then a short run."""

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SMALL_PHANTOM, TINY_LATENT

from anobench.api import Batch
from anobench.diffusion.checkpoint import load_model, read_checkpoint
from anobench.diffusion.latent import latent_for
from anobench.diffusion.model import DiffusionModel
from anobench.diffusion.presets import get_preset
from anobench.errors import AnobenchError
from anobench.methods.ldm.method import LDM, LDMConfig
from anobench.training.objectives import schedule_for
from anobench.training.trainer import TrainConfig, train

T = 300


def stub_network(x, t):
    """A fixed function of the latents and the timestep, standing in for the UNet's noise estimate."""
    return 0.3 * torch.tanh(x) - 0.001 * t.float().view(-1, 1, 1, 1)


def released_chain(latents: torch.Tensor, initial_noise: torch.Tensor, seed: int, clip: bool = True) -> torch.Tensor:
    """The release's loop: MONAI's DDPMScheduler (linear β 0.0015…0.0195, its defaults otherwise:
    x̂0 clipped unless `clip` is false), the latents noised to 300, then `step` at t = 300 … 1,
    drawing its noise from `seed`."""
    from monai.networks.schedulers import DDPMScheduler

    scheduler = DDPMScheduler(
        num_train_timesteps=1000, schedule="linear_beta", beta_start=0.0015, beta_end=0.0195, clip_sample=clip
    )
    scheduler.set_timesteps(num_inference_steps=1000)
    current = scheduler.add_noise(latents, initial_noise, torch.tensor(T).long())
    generator = torch.Generator().manual_seed(seed)
    for t in range(T, 0, -1):
        current, _ = scheduler.step(stub_network(current, torch.tensor([t])), t, current, generator=generator)
    return current


class InjectedNoise:
    """The noise the released loop draws: first the initial ε, then MONAI's draws from `seed`, in order."""

    def __init__(self, initial: torch.Tensor, seed: int) -> None:
        self.initial, self.generator = initial, torch.Generator().manual_seed(seed)

    def __call__(self, *args, **kwargs) -> "InjectedNoise":
        return self

    def sample(self, kind, shape, timestep):
        if self.initial is not None:
            initial, self.initial = self.initial, None
            return initial
        return torch.randn((1, *shape), generator=self.generator)


@pytest.mark.parametrize("clip", [True, False])
def test_the_latent_chain_is_the_released_loop(monkeypatch, clip):
    preset = get_preset("cpu-small")
    model = DiffusionModel(
        preset, schedule_for("latent"), (-1.0, 1.0), "gaussian", torch.device("cpu"), latent=latent_for(preset.name)
    )
    latents = torch.randn(1, 16, 8, 8, generator=torch.Generator().manual_seed(1)) * 1.2  # some beyond ±1
    initial = torch.randn(1, 16, 8, 8, generator=torch.Generator().manual_seed(2))
    ends = []
    model.unet.encode = lambda images: latents
    model.unet.decode = lambda end: ends.append(end) or torch.zeros(1, 1, 64, 64)
    model.network = stub_network
    method = LDM.__new__(LDM)
    method.model, method.config = model, LDMConfig(clip=clip)
    method.noise, method.checkpoint = None, {}
    monkeypatch.setattr("anobench.methods.ldm.method.CaseRandom", InjectedNoise(initial[0], seed=3))
    prediction = method.predict(Batch(torch.zeros(1, 1, 64, 64), ["a"], 0))
    torch.testing.assert_close(ends[0], released_chain(latents, initial, seed=3, clip=clip), rtol=0, atol=1e-6)
    assert prediction.nfe == T and prediction.maps.shape == (1, 1, 64, 64)
    other = released_chain(latents, initial, seed=3, clip=not clip)
    assert (ends[0] - other).abs().max() > 1e-2  # the clipping changes this chain: the option is tested


def test_the_two_stages_resume_across_the_switch_to_the_same_weights(tmp_path, monkeypatch):
    original_step = torch.optim.Adam.step
    calls = {"n": 0}

    def crashing_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # the first diffusion step: the state was saved as the VQ-VAE stage ended
            raise KeyboardInterrupt
        return original_step(self, *args, **kwargs)

    config = TrainConfig(**TINY_LATENT)
    train(config, tmp_path / "straight.pt", SMALL_PHANTOM, "cpu")
    monkeypatch.setattr(torch.optim.Adam, "step", crashing_step)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "latent.pt", SMALL_PHANTOM, "cpu")
    monkeypatch.setattr(torch.optim.Adam, "step", original_step)
    train(config, tmp_path / "latent.pt", SMALL_PHANTOM, "cpu")
    straight = read_checkpoint(tmp_path / "straight.pt")["model"]
    resumed = read_checkpoint(tmp_path / "latent.pt")["model"]
    assert read_checkpoint(tmp_path / "latent.pt")["training"]["autoencoder_steps"] == 2
    assert straight.keys() == resumed.keys() and any(key.startswith("autoencoder.") for key in straight)
    for key in straight:
        torch.testing.assert_close(straight[key], resumed[key], rtol=0, atol=0)


def test_a_latent_checkpoint_records_its_vqvae_and_schedule(latent_checkpoint):
    model, provenance = load_model(latent_checkpoint, torch.device("cpu"))
    # the shipped LDM took the default VQ-VAE stage (None: half of `steps`); the resume test records 2
    assert model.training_scheme == "latent" and provenance["training"]["autoencoder_steps"] is None
    assert model.schedule.config.beta_start == 0.0015 and model.schedule.config.beta_end == 0.0195
    with torch.no_grad():
        latents = model.to_latents(torch.zeros(2, 1, 64, 64))
        assert latents.shape == (2, 16, 8, 8)  # embedding_dim channels at 1/8 of the side
        assert model.from_latents(latents).shape == (2, 1, 64, 64)


def test_latent_settings_are_checked(tmp_path):
    with pytest.raises(AnobenchError, match="--scheme latent only"):
        train(TrainConfig(steps=1, autoencoder_steps=1), tmp_path / "x.pt", SMALL_PHANTOM, "cpu")
    with pytest.raises(AnobenchError, match="pass --noise gaussian"):
        train(TrainConfig(scheme="latent", noise="simplex", steps=1), tmp_path / "x.pt", SMALL_PHANTOM, "cpu")
    assert TrainConfig(scheme="latent", steps=3400).stage_steps() == 1700 and TrainConfig().stage_steps() == 0


def test_a_trained_ldm_scores_the_phantom(latent_checkpoint, denoiser_checkpoint, tmp_path):
    from anobench import registry
    from anobench.api import MethodContext
    from anobench.running.harness import RunRequest, run
    from anobench.store.results import read_results

    context = MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), denoiser_checkpoint)
    with pytest.raises(AnobenchError, match="trained with --scheme full; this method needs a latent diffusion"):
        registry.methods.get("ldm").create({}, context)
    request = RunRequest(
        "ldm",
        "brain-phantom",
        checkpoint=latent_checkpoint,
        method_options={"t": "5"},
        dataset_options=SMALL_PHANTOM,
        out=tmp_path / "ldm",
    )
    run(request)
    results = read_results(tmp_path / "ldm")
    assert (results.rows["nfe"] == 5).all() and results.maps.shape == (12, 64, 64) and (results.maps >= 0).all()


EVALUATION = np.load(Path(__file__).parent / "golden" / "ldm-release-evaluation.npz")


def test_the_map_is_the_released_evaluations():
    """The released evaluation script's map (golden, bench/golden/ldm_evaluation.py) from an image and
    its reconstruction; thresholded at 0.5 as the script does, it gives the script's prediction once
    its components of ≤ 15 pixels are removed."""
    from skimage.morphology import remove_small_objects

    from anobench.methods.ldm.method import evaluation_map

    squared = (EVALUATION["reconstructions"] - EVALUATION["images"]) ** 2
    maps = np.stack([evaluation_map(s) for s in squared])
    np.testing.assert_allclose(maps, EVALUATION["map"], rtol=0, atol=1e-5)
    kept = np.stack([remove_small_objects(m > 0.5, max_size=15, connectivity=2) for m in maps])
    np.testing.assert_array_equal(kept, EVALUATION["prediction"] > 0)
    assert np.abs(squared - EVALUATION["map"]).max() > 0.1  # the sampler's plain residual is another map
    assert not evaluation_map(np.zeros((8, 8), np.float32)).any()  # a constant residual: zero, not NaN
