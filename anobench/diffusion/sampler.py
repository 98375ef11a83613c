"""Partial diffusion chains: noise an image to T0, then step back to 0 over the kept timesteps.

Each step is the respaced DDPM posterior (ancestral: fresh noise per step), or with
`sampler="ddim"` the deterministic DDIM step (η = 0: no noise after the jump to T0).

`PartialChain.run` returns the chain's final state (the posterior mean of its last step: in float64
exactly the last x̂0; in the released float32 arithmetic what the released sampler returns); a
method that needs the intermediates
(THOR) owns its loop and takes each step with `reverse_step`. The noise of the forward jump and of
every reverse step comes from the cases' own generators (see `noise`).
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import torch

from anobench.api import Batch
from anobench.diffusion.model import DiffusionModel
from anobench.diffusion.noise import CaseRandom, NoiseKind
from anobench.diffusion.schedule import NoiseSchedule, respaced_timesteps
from anobench.errors import AnobenchError

SAMPLERS = ("ddpm", "ddim")


def reverse_step(
    schedule: NoiseSchedule,
    x0_hat: torch.Tensor,
    x_t: torch.Tensor,
    t: int,
    t_next: int,
    sampler: str,
    fresh_noise: Callable[[], torch.Tensor],
) -> torch.Tensor:
    """x at kept timestep `t_next` from x at `t` and the network's x̂0: the DDIM step, or the DDPM
    posterior with `fresh_noise()` (drawn only when used: none after the last step)."""
    if sampler == "ddim":
        return schedule.ddim_step(x0_hat, x_t, t, t_next)
    mean, std = schedule.posterior(x0_hat, x_t, t, t_next)
    return mean if t_next < 0 else mean + std * fresh_noise()


class PartialChain:
    """The chain from `x0` (model range): `initial_noise` is the ε of the jump to T0; `schedule` (the
    model's by default) sets the arithmetic, `x0_clip` the clip of x̂0 (`DiffusionModel.clip_x0`)."""

    def __init__(
        self,
        model: DiffusionModel,
        x0: torch.Tensor,
        t0: int,
        stride: int,
        random: CaseRandom,
        noise: NoiseKind,
        sampler: str = "ddpm",
        schedule: NoiseSchedule | None = None,
        x0_clip: str = "input-range",
    ) -> None:
        if sampler not in SAMPLERS:
            raise AnobenchError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
        self.sampler = sampler
        self.model = model
        self.x0 = x0
        self.timesteps = respaced_timesteps(t0, stride)
        self.random = random
        self.noise = noise
        self.schedule = model.schedule if schedule is None else schedule
        self.x0_clip = x0_clip
        self.initial_noise = random.sample(noise, x0.shape[1:], self.timesteps[0])

    def run(self) -> torch.Tensor:
        """Noise to T0, step back over the kept timesteps; the final state (model range)."""
        schedule, model = self.schedule, self.model
        x_t = schedule.q_sample(self.x0, self.timesteps[0], self.initial_noise)
        for t, t_next in zip(self.timesteps, self.timesteps[1:] + [-1]):
            x0_hat = model.clip_x0(schedule.x0_from_noise(x_t, t, model.predict(x_t, t)), self.x0_clip)
            fresh = partial(self.random.sample, self.noise, self.x0.shape[1:], t)
            x_t = reverse_step(schedule, x0_hat, x_t, t, t_next, self.sampler, fresh)
        return x_t


def chain_for_batch(
    model: DiffusionModel,
    batch: Batch,
    t0: int,
    stride: int,
    noise: NoiseKind,
    shared_noise: bool = False,
    sampler: str = "ddpm",
    schedule: NoiseSchedule | None = None,
    x0_clip: str = "input-range",
) -> tuple[torch.Tensor, PartialChain]:
    """The batch's [0, 1] images on the model's device, and a chain from them with per-case noise
    (one draw shared by the batch with `shared_noise`, as the released THOR code did)."""
    images = batch.images.to(model.device)
    random = CaseRandom(batch.case_ids, batch.seed, model.device, shared=shared_noise)
    chain = PartialChain(model, model.to_model_range(images), t0, stride, random, noise, sampler, schedule, x0_clip)
    return images, chain
