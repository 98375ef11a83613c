import math

import numpy as np
import pytest
import torch
from conftest import assert_finds_the_lesions
from skimage.measure import label

from anobench import registry
from anobench.api import Batch, MethodContext
from anobench.diffusion.noise import CaseRandom
from anobench.diffusion.postprocessing import postprocess_map
from anobench.errors import AnobenchError


def method(checkpoint, **options):
    context = MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), checkpoint)
    return registry.methods.get("pddpm").create({k: str(v) for k, v in options.items()}, context)


def batch(count=3, seed=0):
    images = torch.rand(count, 1, 64, 64, generator=torch.Generator().manual_seed(seed))
    return Batch(images, [f"case{i}" for i in range(count)], seed=0)


@pytest.mark.parametrize("max_batch", [4, 9, 64])
def test_all_cells_of_a_batch_go_through_the_network_in_the_fewest_calls(patched_checkpoint, max_batch):
    pddpm = method(patched_checkpoint, max_batch=max_batch)
    with torch.inference_mode(), pddpm.model.metered() as usage:
        prediction = pddpm.predict(batch(5))
    assert prediction.nfe == 9 and pddpm.settings()["cells"] == 9
    assert usage.calls == math.ceil(5 * 9 / max_batch)


@pytest.mark.acting_network
def test_a_case_does_not_depend_on_its_batch_or_the_call_size(patched_checkpoint, lesion_slices):
    images, masks = lesion_slices
    with torch.inference_mode():
        together = method(patched_checkpoint, max_batch=7).predict(Batch(images, ["a", "b", "c", "d"], seed=0)).maps
        single = method(patched_checkpoint, max_batch=64).predict(Batch(images[1:2], ["b"], seed=0)).maps[0]
    assert_finds_the_lesions(together, masks)  # measured 0.99 (a zeroed network's x̂0 = 0: 0.05)
    torch.testing.assert_close(together[1], single, rtol=0, atol=1e-6)


@pytest.mark.parametrize("stitching", ["truncate", "cut", "avg"])
def test_each_pixel_comes_from_a_window_that_noised_it(patched_checkpoint, monkeypatch, stitching):
    pddpm = method(patched_checkpoint, stitching=stitching)
    inputs = []
    monkeypatch.setattr(pddpm.model, "predict", lambda x_t, t: inputs.append(x_t) or x_t)  # x̂0 = its input
    images = batch(2)
    with torch.inference_mode():
        reconstructions = pddpm.reconstruct(images)
    clean = pddpm.model.to_model_range(images.images)
    windows = pddpm.layout.window_masks()[None, :, None]
    network_inputs = torch.cat(inputs).view(2, 9, 1, 64, 64)
    assert torch.equal(torch.where(windows, 0, network_inputs), torch.where(windows, 0, clean[:, None]))
    assert (network_inputs != clean[:, None])[windows.expand_as(network_inputs)].float().mean() > 0.99
    # an identity network returns each window's noisy pixels; stitched, they are the noisy image
    random = CaseRandom(images.case_ids, images.seed, torch.device("cpu"))
    noise = random.sample(pddpm.noise, (1, 64, 64), pddpm.config.t).half().float()  # float16, as released
    noisy = pddpm.model.schedule.q_sample(clean, pddpm.config.t, noise)
    torch.testing.assert_close(reconstructions, pddpm.model.to_unit_range(noisy), rtol=0, atol=1e-6)


def test_patched_model_is_required_and_refused_by_whole_image_methods(denoiser_checkpoint, patched_checkpoint):
    with pytest.raises(AnobenchError, match="trained with --scheme full; this method needs a patch-trained"):
        method(denoiser_checkpoint, noise="gaussian")
    context = MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), patched_checkpoint)
    with pytest.raises(AnobenchError, match="--scheme patched"):
        registry.methods.get("anoddpm").create({"noise": "simplex"}, context)


def test_postprocessing_can_remove_components_of_at_most_seven_pixels_at_every_threshold():
    rng = np.random.default_rng(3)
    brain = np.ones((40, 40), bool)
    anomaly = rng.random((40, 40)) * 0.2
    anomaly[10:20, 10:20] += 0.6  # one large blob survives the median filter
    processed = postprocess_map(anomaly, brain, remove_small_components=True)
    for threshold in np.linspace(0.05, 0.7, 14):
        components = label(processed > threshold, connectivity=2)
        sizes = np.bincount(components.ravel())[1:]
        assert sizes.size == 0 or sizes.min() >= 8
    assert processed[15, 15] > 0.6


def test_postprocessing_erodes_the_brain_mask_w_over_25_times_as_released():
    brain = np.zeros((64, 64), bool)
    brain[5:55, 5:55] = True
    processed = postprocess_map(np.ones((64, 64)), brain)  # 64 // 25 = 2 iterations
    assert processed[5:7].max() == 0 and processed[:, 5:7].max() == 0 and processed[30, 30] == 1
    assert processed[10:50, 10:50].min() == 1
    wide = np.zeros((128, 128), bool)
    wide[10:110, 10:110] = True
    assert postprocess_map(np.ones((128, 128)), wide)[10:15].max() == 0  # 128 // 25 = 5
    assert postprocess_map(np.ones((128, 128)), wide)[16, 60] == 1
    small = np.ones((20, 20), bool)  # 20 // 25 = 0: the mask is kept (scipy would empty it)
    assert postprocess_map(np.ones((20, 20)), small)[10, 10] == 1
