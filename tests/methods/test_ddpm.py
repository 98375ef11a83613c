import hashlib

import numpy as np
import pytest
import torch
from conftest import assert_finds_the_lesions

from anobench import registry
from anobench.api import Batch, MethodContext
from anobench.errors import AnobenchError


@pytest.fixture(scope="module")
def ddpm(denoiser_checkpoint):
    context = MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), denoiser_checkpoint)
    return registry.methods.get("ddpm").create({"t0": "40", "stride": "10"}, context)


def images(count: int) -> torch.Tensor:
    return torch.rand(count, 1, 64, 64, generator=torch.Generator().manual_seed(1))


def test_map_is_the_absolute_residual_of_the_reconstruction(ddpm):
    batch = Batch(images(2), ["a", "b"], seed=0)
    with torch.inference_mode():
        prediction = ddpm.predict(batch)
    assert prediction.maps.shape == batch.images.shape
    torch.testing.assert_close(prediction.maps, (batch.images - prediction.reconstructions).abs())
    assert float(prediction.reconstructions.min()) >= 0 and float(prediction.reconstructions.max()) <= 1
    assert prediction.nfe == 5  # timesteps 40, 30, 20, 10, 0


@pytest.mark.acting_network
def test_a_case_gets_the_same_map_at_batch_size_1_and_4(ddpm, lesion_slices):
    x, masks = lesion_slices
    ids = ["case-0", "case-1", "case-2", "case-3"]
    with torch.inference_mode():
        together = ddpm.predict(Batch(x, ids, seed=3)).maps
        alone = [ddpm.predict(Batch(x[i : i + 1], ids[i : i + 1], seed=3)).maps for i in (2, 0, 3, 1)]
    assert_finds_the_lesions(together, masks)  # the network's output is what is being compared
    for position, i in enumerate((2, 0, 3, 1)):
        torch.testing.assert_close(alone[position][0], together[i], rtol=0, atol=1e-5)


def test_noise_depends_on_seed_and_case_id_only(ddpm):
    x = images(2)
    with torch.inference_mode():
        first = ddpm.predict(Batch(x, ["p", "q"], seed=0)).maps
        swapped = ddpm.predict(Batch(x.flip(0), ["q", "p"], seed=0)).maps
        other_seed = ddpm.predict(Batch(x, ["p", "q"], seed=1)).maps
    torch.testing.assert_close(first, swapped.flip(0), rtol=0, atol=1e-5)
    assert not np.allclose(first.numpy(), other_seed.numpy())


def test_settings_record_the_checkpoint(ddpm, denoiser_checkpoint):
    settings = ddpm.settings()
    assert settings["t0"] == 40 and settings["stride"] == 10 and settings["noise"] == "gaussian"
    assert settings["checkpoint"]["path"] == str(denoiser_checkpoint)
    assert settings["checkpoint"]["sha256"] == hashlib.sha256(denoiser_checkpoint.read_bytes()).hexdigest()


def test_checkpoint_of_another_size_is_refused(denoiser_checkpoint):
    context = MethodContext("brain-phantom", "paper", 128, torch.device("cpu"), denoiser_checkpoint)
    with pytest.raises(AnobenchError, match="trained at 64×64.*--preset cpu-small"):
        registry.methods.get("ddpm").create({}, context)


def test_ddim_sampler_is_deterministic_after_the_jump_and_costs_the_same_calls(denoiser_checkpoint):
    create = registry.methods.get("ddpm").create
    context = MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), denoiser_checkpoint)
    ancestral = create({"t0": "30", "stride": "10"}, context)
    ddim = create({"t0": "30", "stride": "10", "sampler": "ddim"}, context)
    batch = Batch(images(2), ["a", "b"], seed=0)
    with torch.inference_mode():
        first, second, other = ddim.predict(batch), ddim.predict(batch), ancestral.predict(batch)
    torch.testing.assert_close(first.maps, second.maps)
    assert first.nfe == other.nfe == 4 and not torch.allclose(first.maps, other.maps)
    assert ddim.settings()["sampler"] == "ddim"
    with pytest.raises(AnobenchError, match="sampler"):
        create({"sampler": "euler"}, context)


# bf16 against fp32 maps of DDPM from T0 = 10 on `lesion_slices`, measured on an AMD EPYC (2 cores) with
# each of torch's CPU kernel sets (ATEN_CPU_CAPABILITY default, avx2, avx512): at most 2.4e-3 to 2.6e-3
# apart, 3.9e-4 to 4.3e-4 on average (a zeroed network: exactly 0); bounds at about 4× the largest
BF16_MAX, BF16_MEAN = 0.01, 0.002


@pytest.mark.acting_network
def test_bf16_autocast_stays_close_to_fp32_maps(denoiser_checkpoint, lesion_slices):
    context = MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), denoiser_checkpoint)
    create = registry.methods.get("ddpm").create
    exact = create({"t0": "10", "stride": "10"}, context)
    from dataclasses import replace

    reduced = create({"t0": "10", "stride": "10"}, replace(context, precision="bf16"))
    images, masks = lesion_slices
    batch = Batch(images, ["a", "b", "c", "d"], seed=0)
    with torch.inference_mode():
        exact_maps = exact.predict(batch).maps
        difference = (reduced.predict(batch).maps - exact_maps).abs()
    assert_finds_the_lesions(exact_maps, masks)
    assert float(difference.max()) < BF16_MAX and float(difference.mean()) < BF16_MEAN
    assert float(difference.max()) > 0  # autocast did reduce the network's precision
    with pytest.raises(AnobenchError, match="precision must be one of"):
        create({}, replace(context, precision="int8"))
