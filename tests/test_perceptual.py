import pytest
import torch

from anobench import perceptual
from anobench.diffusion.checkpoint import load_model
from anobench.errors import AnobenchError


@pytest.fixture(scope="module")
def denoiser(denoiser_checkpoint):
    return load_model(denoiser_checkpoint, torch.device("cpu"))[0]


def pair():
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(2, 1, 64, 64, generator=generator)
    estimate = image.clone()
    estimate[:, :, 10:20, 10:20] = 1.0  # a local difference
    return estimate, image


def test_missing_lpips_weights_name_the_file_its_source_and_where_to_put_it(denoiser):
    with pytest.raises(AnobenchError) as error:
        perceptual.perceptual_backend("lpips-squeeze", denoiser)
    message = str(error.value)
    assert "squeezenet1_1-b8a52dc0.pth" in message
    assert "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth" in message
    assert str(perceptual.hub_weights_path(perceptual.TRUNKS["lpips-squeeze"]).parent) in message


def test_lpips_uses_the_given_trunk_weights_and_the_double_scaling_quirk_feeds_4x_minus_3(
    denoiser, fake_squeezenet_weights
):
    once = perceptual.perceptual_backend("lpips-squeeze", denoiser, fake_squeezenet_weights, double_scaling=False)
    twice = perceptual.perceptual_backend("lpips-squeeze", denoiser, fake_squeezenet_weights, double_scaling=True)
    saved = torch.load(fake_squeezenet_weights, weights_only=True)
    torch.testing.assert_close(once.model.net.slice1[0].weight, saved["features.0.weight"])
    estimate, image = pair()
    three = lambda x: x.repeat(1, 3, 1, 1)  # noqa: E731
    with torch.no_grad():
        expected_once = once.model(three(2 * estimate - 1), three(2 * image - 1))
        expected_twice = once.model(three(4 * estimate - 3), three(4 * image - 3))
    torch.testing.assert_close(once.distance_map(estimate, image), expected_once)
    torch.testing.assert_close(twice.distance_map(estimate, image), expected_twice)
    assert not torch.allclose(expected_once, expected_twice)
    assert once.distance_map(estimate, image).shape == image.shape


def test_a_file_that_is_not_the_trunk_is_refused(denoiser, tmp_path):
    wrong = tmp_path / "squeezenet1_1-b8a52dc0.pth"
    torch.save({"features.0.weight": torch.zeros(3)}, wrong)
    with pytest.raises(AnobenchError, match="does not hold the expected ImageNet trunk"):
        perceptual.perceptual_backend("lpips-squeeze", denoiser, wrong)


def test_auto_takes_lpips_squeeze_when_weights_exist_else_unet_with_a_warning(fake_squeezenet_weights):
    with pytest.warns(UserWarning, match="replaced by `unet`"):
        assert perceptual.resolve_backend("auto", None) == "unet"
    assert perceptual.resolve_backend("auto", fake_squeezenet_weights) == "lpips-squeeze"
    assert perceptual.resolve_backend("ssim", None) == "ssim"
    with pytest.raises(AnobenchError, match="unknown perceptual backend"):
        perceptual.resolve_backend("lpips-resnet", None)


def test_auto_finds_the_weights_in_the_torch_hub_cache(fake_squeezenet_weights, monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / fake_squeezenet_weights.name).write_bytes(fake_squeezenet_weights.read_bytes())
    assert perceptual.resolve_backend("auto", None) == "lpips-squeeze"


def test_unet_features_are_zero_for_equal_images_bounded_and_local(denoiser):
    backend = perceptual.perceptual_backend("unet", denoiser)
    estimate, image = pair()
    with torch.no_grad():
        same = backend.distance_map(image, image)
        different = backend.distance_map(estimate, image)
    assert float(same.abs().max()) < 1e-5
    assert different.shape == image.shape
    assert 0 <= float(different.min()) and float(different.max()) <= 1
    assert float(different[:, :, 10:20, 10:20].mean()) > 3 * float(different[:, :, 45:, 45:].mean())
