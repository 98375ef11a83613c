"""The DDPM noise schedule (MONAI's DDPMScheduler) and the respaced posterior.

MONAI's `step()` assumes consecutive timesteps and draws its own Gaussian noise. anobench needs
partial chains with a stride (kept timesteps T0, T0−k, …, 0) and noise it controls per case
(Gaussian or simplex), so it takes the schedule's ᾱ from MONAI and computes the exact DDPM
posterior q(x_s | x_t, x̂0) between any two kept timesteps s < t itself. With stride 1 this is
MONAI's step exactly (tested).

Arithmetic (`arithmetic=`): `float64` (default) computes ᾱ and every step coefficient in float64,
which resolves the small differences of numbers near 1 that short jumps need; `float32` is the
released THOR scheduler's arithmetic (MONAI's float32 ᾱ, 1 − ᾱ and, between consecutive steps,
the schedule's own β_t), whose step coefficients differ by up to ~1.5e-4 at small t.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from anobench.errors import AnobenchError


@dataclass(frozen=True)
class ScheduleConfig:
    """THOR's training schedule: 1000 linear betas from 1e-4 to 2e-2, epsilon prediction.

    pDDPM trains with MONAI's `cosine` schedule (which has no beta range) and `prediction`
    `sample`: the network outputs x̂0 instead of the noise.
    """

    num_train_timesteps: int = 1000
    schedule: str = "linear_beta"
    beta_start: float = 1e-4
    beta_end: float = 2e-2
    variance: str = "fixed_small"
    prediction: str = "epsilon"


T_MAX = ScheduleConfig.num_train_timesteps - 1  # the noisiest timestep a chain can start from
PREDICTIONS = ("epsilon", "sample")
ARITHMETICS = ("float64", "float32")


def respaced_timesteps(t0: int, stride: int) -> list[int]:
    """T0, T0−stride, …, down to 0 (0 always included). stride 1 is the full ancestral chain."""
    if stride < 1:
        raise AnobenchError(f"stride must be at least 1, got {stride}")
    if t0 < 0:
        raise AnobenchError(f"the start timestep must be at least 0, got {t0}")
    steps = list(range(t0, -1, -stride))
    if steps[-1] != 0:
        steps.append(0)
    return steps


class NoiseSchedule:
    """ᾱ_t of a MONAI DDPMScheduler and the closed forms built on it."""

    def __init__(self, config: ScheduleConfig = ScheduleConfig(), arithmetic: str = "float64") -> None:
        if arithmetic not in ARITHMETICS:
            raise AnobenchError(f"schedule arithmetic must be one of {', '.join(ARITHMETICS)}, got {arithmetic!r}")
        if config.variance not in ("fixed_small", "fixed_large"):
            raise AnobenchError(f"variance must be fixed_small or fixed_large, got {config.variance!r}")
        if config.prediction not in PREDICTIONS:
            raise AnobenchError(f"prediction must be one of {', '.join(PREDICTIONS)}, got {config.prediction!r}")
        from monai.networks.schedulers import DDPMScheduler  # importing monai takes seconds

        self.config = config
        beta_range = (
            {} if config.schedule == "cosine" else {"beta_start": config.beta_start, "beta_end": config.beta_end}
        )
        self.scheduler = DDPMScheduler(
            num_train_timesteps=config.num_train_timesteps,
            schedule=config.schedule,
            variance_type=config.variance,
            clip_sample=True,
            prediction_type=config.prediction,
            **beta_range,
        )
        self.arithmetic = arithmetic
        self.dtype = torch.float64 if arithmetic == "float64" else torch.float32
        # ᾱ in float64 from MONAI's betas: the effective beta 1 − ᾱ_t/ᾱ_s of a short jump is a
        # small difference of numbers near 1, which float32 resolves only to ~1e-5.
        self.betas = self.scheduler.betas.to(self.dtype)
        self.alphas_cumprod = torch.cumprod(1 - self.betas, dim=0)
        self.num_train_timesteps = config.num_train_timesteps

    def with_arithmetic(self, arithmetic: str) -> "NoiseSchedule":
        """The same schedule computed in `arithmetic` (itself when unchanged)."""
        return self if arithmetic == self.arithmetic else NoiseSchedule(self.config, arithmetic)

    def _jump_beta(self, t: int, s: int) -> torch.Tensor:
        """The effective β of the jump t → s; between consecutive steps in float32 the schedule's β_t,
        as the released scheduler takes it."""
        if self.arithmetic == "float32" and s == t - 1:
            return self.betas[t]
        return 1 - self.alpha_bar(t) / self.alpha_bar(s)

    def alpha_bar(self, t: int) -> torch.Tensor:
        """ᾱ_t; by convention ᾱ_{−1} = 1 (the clean image)."""
        if t < 0:
            return torch.tensor(1.0, dtype=self.dtype)
        if t >= self.num_train_timesteps:
            raise AnobenchError(f"timestep {t} is outside the schedule's 0..{self.num_train_timesteps - 1}")
        return self.alphas_cumprod[t]

    def q_sample(self, x0: torch.Tensor, t: int, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(ᾱ_t)·x0 + sqrt(1 − ᾱ_t)·ε."""
        alpha_bar = self.alpha_bar(t)
        return alpha_bar.sqrt().float() * x0 + (1 - alpha_bar).sqrt().float() * noise

    def q_jump(self, x_s: torch.Tensor, s: int, t: int, noise: torch.Tensor) -> torch.Tensor:
        """x_t ~ q(x_t | x_s) for s < t: sqrt(ᾱ_t/ᾱ_s)·x_s + sqrt(1 − ᾱ_t/ᾱ_s)·ε (s = −1: the clean image)."""
        ratio = self.alpha_bar(t) / self.alpha_bar(s)
        return ratio.sqrt().float() * x_s + (1 - ratio).sqrt().float() * noise

    def x0_from_noise(self, x_t: torch.Tensor, t: int, noise: torch.Tensor) -> torch.Tensor:
        alpha_bar = self.alpha_bar(t)
        return (x_t - (1 - alpha_bar).sqrt().float() * noise) / alpha_bar.sqrt().float()

    def posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t: int, s: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of q(x_s | x_t, x0) for s < t (s = −1: the clean image)."""
        alpha_bar_t, alpha_bar_s = self.alpha_bar(t), self.alpha_bar(s)
        beta = self._jump_beta(t, s)
        coefficient_x0 = (alpha_bar_s.sqrt() * beta / (1 - alpha_bar_t)).float()
        coefficient_xt = ((1 - beta).sqrt() * (1 - alpha_bar_s) / (1 - alpha_bar_t)).float()
        mean = coefficient_x0 * x0 + coefficient_xt * x_t
        if s < 0:
            return mean, torch.zeros(())
        if self.config.variance == "fixed_large":
            variance = beta
        else:
            variance = torch.clamp((1 - alpha_bar_s) / (1 - alpha_bar_t) * beta, min=1e-20)
        return mean, variance.sqrt().float()

    def ddim_step(self, x0: torch.Tensor, x_t: torch.Tensor, t: int, s: int) -> torch.Tensor:
        """Deterministic DDIM (η = 0) from t to s < t: x_s = sqrt(ᾱ_s)·x̂0 + sqrt(1 − ᾱ_s)·ε̂, with ε̂
        the noise that x̂0 implies at x_t (so a clamped or replaced x̂0 is honoured)."""
        alpha_bar_t, alpha_bar_s = self.alpha_bar(t), self.alpha_bar(s)
        noise = (x_t - alpha_bar_t.sqrt().float() * x0) / (1 - alpha_bar_t).sqrt().float()
        return alpha_bar_s.sqrt().float() * x0 + (1 - alpha_bar_s).sqrt().float() * noise
