"""Partial diffusion chains: noise an image to T0, then step back to 0 over the kept timesteps.

Each step is the respaced DDPM posterior (ancestral: fresh noise per step), or with
`sampler="ddim"` the deterministic DDIM step (η = 0: no noise after the jump to T0).

`PartialChain` is an iterator of `ChainState`s, one per kept timestep, each carrying the network's
clean-image estimate x̂0(t). A method may read the state (to build maps from intermediates) or
replace `x0_hat`, or the next state itself, before the chain continues (guided sampling). The noise of the forward
jump and of every reverse step comes from the cases' own generators (see `noise`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch

from anobench.api import Batch
from anobench.diffusion.model import DiffusionModel
from anobench.diffusion.noise import CaseRandom, NoiseKind
from anobench.diffusion.schedule import respaced_timesteps
from anobench.errors import AnobenchError

SAMPLERS = ("ddpm", "ddim")


@dataclass
class ChainState:
    """The chain at kept timestep `t` (next kept timestep `t_next`, −1 after the last).

    A consumer may set `x_next` to replace the next chain state outright (THOR re-noises a
    blended image instead of taking the posterior step).
    """

    t: int
    t_next: int
    x_t: torch.Tensor
    x0_hat: torch.Tensor
    x_next: torch.Tensor | None = None


class PartialChain:
    """Iterate to run the chain; `initial_noise` is the ε used for the jump to T0."""

    def __init__(
        self,
        model: DiffusionModel,
        x0: torch.Tensor,
        t0: int,
        stride: int,
        random: CaseRandom,
        noise: NoiseKind,
        sampler: str = "ddpm",
    ) -> None:
        if sampler not in SAMPLERS:
            raise AnobenchError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
        self.sampler = sampler
        self.model = model
        self.x0 = x0
        self.timesteps = respaced_timesteps(t0, stride)
        self.random = random
        self.noise = noise
        self.initial_noise = random.sample(noise, x0.shape[1:], self.timesteps[0])

    def __iter__(self) -> Iterator[ChainState]:
        schedule = self.model.schedule
        x_t = schedule.q_sample(self.x0, self.timesteps[0], self.initial_noise)
        following = self.timesteps[1:] + [-1]
        for t, t_next in zip(self.timesteps, following):
            predicted_noise = self.model.predict(x_t, t)
            x0_hat = self.model.clamp(schedule.x0_from_noise(x_t, t, predicted_noise))
            state = ChainState(t, t_next, x_t, x0_hat)
            yield state
            if state.x_next is not None:
                x_t = state.x_next
                continue
            if self.sampler == "ddim":
                x_t = schedule.ddim_step(state.x0_hat, state.x_t, t, t_next)
                continue
            mean, std = schedule.posterior(state.x0_hat, state.x_t, t, t_next)
            x_t = mean if t_next < 0 else mean + std * self.random.sample(self.noise, self.x0.shape[1:], t)

    def run(self) -> ChainState:
        """Run to the end; the last state's `x0_hat` is the reconstruction (model range)."""
        state = None
        for state in self:
            pass
        assert state is not None
        return state


def chain_for_batch(
    model: DiffusionModel, batch: Batch, t0: int, stride: int, noise: NoiseKind, shared_noise: bool = False,
    sampler: str = "ddpm",
) -> tuple[torch.Tensor, PartialChain]:
    """The batch's [0, 1] images on the model's device, and a chain from them with per-case noise
    (one draw shared by the batch with `shared_noise`, as the released THOR code did)."""
    images = batch.images.to(model.device)
    random = CaseRandom(batch.case_ids, batch.seed, model.device, shared=shared_noise)
    return images, PartialChain(model, model.to_model_range(images), t0, stride, random, noise, sampler)
