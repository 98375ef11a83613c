import pytest
import torch

from anobench.diffusion.schedule import NoiseSchedule, ScheduleConfig, respaced_timesteps
from anobench.errors import AnobenchError


def test_respaced_timesteps_keep_t0_and_zero():
    assert respaced_timesteps(350, 1) == list(range(350, -1, -1))
    assert respaced_timesteps(350, 25)[:3] == [350, 325, 300]
    assert respaced_timesteps(350, 25)[-1] == 0
    assert respaced_timesteps(350, 100) == [350, 250, 150, 50, 0]
    assert len(respaced_timesteps(350, 10)) == 36
    with pytest.raises(AnobenchError):
        respaced_timesteps(350, 0)


@pytest.mark.parametrize("variance", ["fixed_small", "fixed_large"])
@pytest.mark.parametrize("t", [1, 57, 349, 999])
def test_stride_one_step_is_monais_step(variance, t):
    schedule = NoiseSchedule(ScheduleConfig(variance=variance))
    monai = schedule.scheduler  # compared in float64: MONAI's float32 ᾱ is only ~1e-4 exact near t = 0
    monai.betas = monai.betas.double()
    monai.alphas = 1 - monai.betas
    monai.alphas_cumprod = torch.cumprod(monai.alphas, 0)
    monai.one = torch.tensor(1.0, dtype=torch.float64)
    generator = torch.Generator().manual_seed(t)
    x_t, predicted_noise = torch.randn(2, 1, 8, 8, generator=generator), torch.randn(2, 1, 8, 8, generator=generator)
    monai_generator = torch.Generator().manual_seed(99)
    expected, expected_x0 = monai.step(predicted_noise, t, x_t, generator=monai_generator)
    step_noise = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(99))
    x0 = schedule.x0_from_noise(x_t, t, predicted_noise).clamp(-1, 1)
    mean, std = schedule.posterior(x0, x_t, t, t - 1)
    torch.testing.assert_close(x0, expected_x0.float())
    torch.testing.assert_close(mean + std * step_noise, expected.float(), rtol=1e-5, atol=1e-6)


def test_last_step_returns_the_clean_estimate():
    schedule = NoiseSchedule()
    x0, x_t = torch.rand(1, 1, 4, 4), torch.randn(1, 1, 4, 4)
    mean, std = schedule.posterior(x0, x_t, 0, -1)
    torch.testing.assert_close(mean, x0)
    assert float(std) == 0.0


@pytest.mark.parametrize("t,s", [(350, 340), (350, 325), (100, 0), (999, 500)])
def test_respaced_posterior_is_consistent_with_the_forward_process(t, s):
    """If x_t ~ q(x_t|x0) and x_s ~ q(x_s|x_t, x0), then x_s ~ q(x_s|x0): check both moments."""
    schedule = NoiseSchedule()
    a_t, a_s = schedule.alpha_bar(t).double(), schedule.alpha_bar(s).double()
    x0 = torch.tensor(0.7, dtype=torch.float64)
    coefficient_x0, _ = schedule.posterior(torch.tensor(1.0), torch.tensor(0.0), t, s)
    coefficient_xt, std = schedule.posterior(torch.tensor(0.0), torch.tensor(1.0), t, s)
    mean = coefficient_x0.double() * x0 + coefficient_xt.double() * a_t.sqrt() * x0
    variance = coefficient_xt.double() ** 2 * (1 - a_t) + std.double() ** 2
    assert float(mean) == pytest.approx(float(a_s.sqrt() * x0), rel=1e-5)
    assert float(variance) == pytest.approx(float(1 - a_s), rel=1e-4)


@pytest.mark.parametrize("t,s", [(350, 340), (350, 0), (100, -1)])
def test_ddim_step_stays_on_the_forward_trajectory_of_its_noise(t, s):
    """With the x̂0 that produced x_t, DDIM lands where the same noise puts x_s."""
    schedule = NoiseSchedule()
    generator = torch.Generator().manual_seed(t)
    x0, noise = torch.rand(2, 1, 8, 8, generator=generator), torch.randn(2, 1, 8, 8, generator=generator)
    x_t = schedule.q_sample(x0, t, noise)
    expected = x0 if s < 0 else schedule.q_sample(x0, s, noise)
    torch.testing.assert_close(schedule.ddim_step(x0, x_t, t, s), expected, rtol=1e-4, atol=1e-5)
