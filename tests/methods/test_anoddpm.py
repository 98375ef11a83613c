import math

import pytest
import torch

from anobench import registry
from anobench.api import Batch, MethodContext
from anobench.errors import AnobenchError


def anoddpm(checkpoint, **options):
    context = MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), checkpoint)
    return registry.methods.get("anoddpm").create({key: str(value) for key, value in options.items()}, context)


def test_thor_paper_preset_is_the_default(simplex_checkpoint):
    settings = anoddpm(simplex_checkpoint).settings()
    assert (settings["preset"], settings["t0"], settings["error"], settings["variance"]) == (
        "thor-paper",
        250,
        "absolute",
        "fixed_small",
    )
    assert settings["noise"] == "simplex"


def test_wyatt_preset_squares_the_error_and_uses_the_fixed_large_variance(simplex_checkpoint):
    method = anoddpm(simplex_checkpoint, preset="wyatt", stride=50)
    settings = method.settings()
    assert (settings["t0"], settings["error"], settings["variance"]) == (199, "squared", "fixed_large")
    schedule = method.chain.model.schedule
    _, std = schedule.posterior(torch.zeros(1), torch.zeros(1), 100, 99)
    assert float(std) == pytest.approx(math.sqrt(float(schedule.scheduler.betas[100])), rel=1e-5)
    images = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        prediction = method.predict(Batch(images, ["a", "b"], seed=0))
    torch.testing.assert_close(prediction.maps, (images - prediction.reconstructions) ** 2)
    assert prediction.nfe == 5  # 199, 149, 99, 49, 0


def test_a_preset_value_can_be_overridden(simplex_checkpoint):
    assert anoddpm(simplex_checkpoint, preset="wyatt", t0=249).settings()["t0"] == 249


def test_a_gaussian_checkpoint_is_refused(denoiser_checkpoint):
    with pytest.raises(AnobenchError, match="gaussian noise, not simplex"):
        anoddpm(denoiser_checkpoint)
