import numpy as np
import pytest
import torch
from conftest import assert_finds_the_lesions

from anobench import registry
from anobench.api import Batch, Case, MethodContext
from anobench.errors import AnobenchError
from anobench.methods.autoddpm import method as autoddpm


def healthy_cases(limit=6):
    generator = torch.Generator().manual_seed(9)
    return [Case(f"h{i}", torch.rand(64, 64, generator=generator).numpy()) for i in range(min(limit, 6))]


def method(checkpoint, healthy=healthy_cases, **options):
    context = MethodContext(
        "brain-phantom",
        "cpu-small",
        64,
        torch.device("cpu"),
        checkpoint,
        healthy_validation=healthy,
        validation_split="brain-phantom:val",
    )
    fast = {"t0": 20, "stride": 10, "resample_from": 10, "resample_repeats": 2, "perceptual": "ssim"}
    return registry.methods.get("autoddpm").create({k: str(v) for k, v in {**fast, **options}.items()}, context)


def test_residual_is_normalised_by_its_own_95th_percentile():
    images = torch.zeros(2, 1, 1, 100)
    reconstructions = torch.zeros(2, 1, 1, 100)
    reconstructions[0, 0, 0] = torch.linspace(0, 0.99, 100)  # 95th percentile 0.9405
    result = autoddpm.normalised_residual(images, reconstructions)
    assert float(result[0, 0, 0, 50]) == pytest.approx(0.5 / 0.9405, rel=1e-4)
    assert float(result[0].max()) == 1.0
    assert float(result[1].abs().max()) == 0.0  # a zero residual stays zero


def test_dilation_is_a_3x3_square():
    mask = torch.zeros(1, 1, 5, 5)
    mask[0, 0, 0, 0] = 1
    mask[0, 0, 3, 3] = 1
    dilated = autoddpm.dilate(mask)[0, 0]
    assert dilated.sum() == 4 + 9 and dilated[0:2, 0:2].min() == 1 and dilated[2:5, 2:5].min() == 1


def test_threshold_leaves_at_most_the_allowed_fraction_above():
    values = np.random.default_rng(0).random(1000)
    tau = autoddpm.threshold_for_fpr(values, 0.05)
    assert (values > tau).mean() <= 0.05 and (values >= tau).mean() > 0.05


def test_calibrated_threshold_gives_at_most_5_percent_positives_on_its_healthy_images(denoiser_checkpoint):
    model = method(denoiser_checkpoint)
    settings = model.settings()
    assert settings["calibration"]["cases"] == 6 and settings["calibration"]["achieved_fpr"] <= 0.05
    cases = healthy_cases()
    images = torch.stack([torch.from_numpy(c.image) for c in cases])[:, None]
    with torch.inference_mode():
        stage_map = model.stage_one(Batch(images, [c.case_id for c in cases], 0))[2]
    # τ is the calibrated order statistic, not merely a high value: at most 5 % above it, more from it on
    assert float((stage_map > model.threshold).float().mean()) <= 0.05
    assert float((stage_map >= model.threshold).float().mean()) > 0.05


def test_result_equals_the_input_outside_the_dilated_mask(denoiser_checkpoint):
    images = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(2))
    batch = Batch(images, ["a", "b"], seed=0)
    with torch.inference_mode():
        stage_map = method(denoiser_checkpoint, threshold=0.0).stage_one(batch)[2]
        model = method(denoiser_checkpoint, threshold=float(stage_map.quantile(0.98)))
        prediction = model.predict(batch)
    outside = prediction.extras["mask"] == 0
    assert 0 < int(outside.sum()) < outside.numel()  # the test exercises both regions
    assert torch.equal(prediction.reconstructions[outside], images[outside])
    assert float(prediction.maps[outside].abs().max()) == 0.0
    assert prediction.nfe == 3 + 2  # coarse at 20, 10, 0; RePaint at index 10, 2 repeats (index 0: no call)


@pytest.mark.acting_network
def test_a_case_gets_the_same_map_alone_and_in_a_batch(denoiser_checkpoint, lesion_slices):
    model = method(denoiser_checkpoint, threshold=0.05)
    images, masks = lesion_slices
    with torch.inference_mode():
        together = model.predict(Batch(images, ["w", "x", "y", "z"], seed=1)).maps
        alone = model.predict(Batch(images[2:3], ["y"], seed=1)).maps
    assert_finds_the_lesions(together, masks)
    torch.testing.assert_close(alone[0], together[2], rtol=0, atol=1e-5)


def test_without_healthy_images_a_threshold_must_be_given(denoiser_checkpoint):
    with pytest.raises(AnobenchError, match="pass --set threshold=VALUE"):
        method(denoiser_checkpoint, healthy=lambda limit: [])
    assert method(denoiser_checkpoint, healthy=lambda limit: [], threshold=0.2).settings()["threshold"] == 0.2
