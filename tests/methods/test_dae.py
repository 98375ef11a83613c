"""The DAE's building blocks on tiny arrays: its map against the official code's (golden arrays, see
golden/dae-release-map.json), the coarse noise it is trained on, its loss, and its checkpoint checks."""

from pathlib import Path

import numpy as np
import pytest
import torch

from anobench import registry
from anobench.api import Batch, MethodContext
from anobench.diffusion.coarse_noise import coarse_noise, grid_side
from anobench.errors import AnobenchError
from anobench.methods.dae.method import eroded_foreground

GOLDEN = Path(__file__).parent / "golden" / "dae-release-map.npz"


def test_the_map_matches_the_released_code_through_predict(dae_checkpoint, monkeypatch):
    """The golden arrays through the public method: its network answers with the release run's
    reconstruction, and `predict` must turn it into the release's map."""
    golden = np.load(GOLDEN)
    clean, reconstruction = torch.from_numpy(golden["clean"]), torch.from_numpy(golden["reconstruction"])
    context = MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), dae_checkpoint)
    method = registry.methods.get("dae").create({}, context)
    model, asked = method.model, []

    def released_network(x, t):
        asked.append(t)
        torch.testing.assert_close(x, model.to_model_range(clean))  # the clean image, once, at t = 0
        return model.to_model_range(reconstruction)

    monkeypatch.setattr(model, "predict", released_network)
    prediction = method.predict(Batch(clean, ["a", "b"], 0))
    np.testing.assert_allclose(prediction.maps.numpy(), golden["map"], rtol=0, atol=1e-7)
    assert asked == [0] and golden["map"].max() > 0 and (golden["map"] == 0).mean() > 0.3  # background and edge zeroed


def test_the_eroded_foreground_drops_a_two_pixel_rim_and_the_image_edge():
    images = torch.zeros(1, 1, 12, 12)
    images[..., 2:10, 2:10] = 0.5
    kept = eroded_foreground(images, 5)[0, 0]
    assert kept[4:8, 4:8].all() and kept.sum() == 16  # 8×8 square minus a 2-pixel rim
    full = eroded_foreground(torch.ones(1, 1, 12, 12), 5)[0, 0]
    assert full[2:10, 2:10].all() and not full[0].any()  # zero padding erodes the image's own edge


def test_coarse_noise_is_smooth_at_the_grid_scale_and_shifted_per_batch():
    assert grid_side(128) == 16 and grid_side(64) == 8
    generator = torch.Generator().manual_seed(0)
    noise = coarse_noise(generator, (64, 1, 64, 64))
    assert noise.shape == (64, 1, 64, 64)
    neighbours = torch.corrcoef(torch.stack([noise[..., :, :-1].flatten(), noise[..., :, 1:].flatten()]))[0, 1]
    assert neighbours > 0.95  # a value per 8×8 pixels, bilinear in between
    assert 0.5 < float(noise.std()) < 1.0  # unit draws on the grid; interpolation lowers the spread between nodes
    again = coarse_noise(torch.Generator().manual_seed(0), (64, 1, 64, 64))
    assert torch.equal(noise, again)


def test_the_loss_noises_only_the_foreground_and_scores_only_it():
    from anobench.training.objectives import denoising_loss

    x0 = torch.full((2, 1, 16, 16), -1.0)  # model range: background is -1
    x0[..., 4:12, 4:12] = 0.2

    def identity(x, t):
        assert int(t.abs().sum()) == 0  # the DAE always runs at timestep 0
        return x

    loss = denoising_loss(identity, x0, torch.Generator().manual_seed(1))
    foreground = (x0 > -0.98).float()
    # the identity returns its noisy input: the loss is the foreground noise's mean square over all pixels
    generator = torch.Generator().manual_seed(1)
    expected = ((coarse_noise(generator, x0.shape) * 0.4 * foreground) ** 2).mean()
    torch.testing.assert_close(loss, expected)
    assert float(denoising_loss(lambda x, t: x0, x0, torch.Generator())) == 0.0  # a perfect denoiser


def test_whole_image_diffusion_checkpoints_are_refused(denoiser_checkpoint):
    from anobench import registry
    from anobench.api import MethodContext

    context = MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), denoiser_checkpoint)
    with pytest.raises(AnobenchError, match="trained with --scheme full; this method needs a denoising autoencoder"):
        registry.methods.get("dae").create({}, context)
    with pytest.raises(AnobenchError, match="odd window sides"):
        registry.methods.get("dae").create({"median": "4"}, context)


def test_a_trained_dae_scores_the_phantom_in_one_network_call(dae_checkpoint, tmp_path):
    from conftest import SMALL_PHANTOM

    from anobench.running.harness import RunRequest, run
    from anobench.store.results import read_results

    with pytest.raises(AnobenchError, match="--scheme dae"):
        run(RunRequest("ddpm", "brain-phantom", checkpoint=dae_checkpoint, dataset_options=SMALL_PHANTOM))
    request = RunRequest(
        "dae", "brain-phantom", checkpoint=dae_checkpoint, dataset_options=SMALL_PHANTOM, out=tmp_path / "dae"
    )
    run(request)
    results = read_results(tmp_path / "dae")
    assert (results.rows["nfe"] == 1).all() and results.maps.shape == (12, 64, 64)
    assert (results.maps[results.images < 0.01] == 0).all()  # nothing outside the foreground
