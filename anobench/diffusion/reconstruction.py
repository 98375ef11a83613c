"""Partial-diffusion reconstruction and its residual map: the algorithm of DDPM (THOR paper's
baseline) and of AnoDDPM (the same chain with simplex noise), which both methods configure.

Noise the image to T0, run the chain back to 0 (ancestral DDPM steps, or DDIM), take the final
clean-image estimate x̂ clamped to [0, 1] and the residual |x − x̂| (or (x − x̂)²). `stride` > 1 runs
a respaced chain (the exact posterior between kept steps); stride 1 is the papers' chain (T0 + 1
network calls). `variance` replaces the schedule's reverse-step variance (fixed-small, as trained,
or fixed-large β_t, as AnoDDPM's original).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from anobench.api import Batch, MethodContext, Prediction
from anobench.diffusion.denoiser import load_denoiser
from anobench.diffusion.noise import noise_kind
from anobench.diffusion.sampler import chain_for_batch
from anobench.diffusion.schedule import NoiseSchedule


class PartialReconstruction:
    def __init__(
        self, context: MethodContext, t0: int, stride: int | None, sampler: str, noise: str, error: str, variance: str
    ) -> None:
        self.model, self.checkpoint = load_denoiser(context, noise)
        if variance != self.model.schedule.config.variance:
            self.model.schedule = NoiseSchedule(replace(self.model.schedule.config, variance=variance))
        self.t0, self.sampler, self.error = t0, sampler, error
        self.stride = self.model.preset.default_stride if stride is None else stride
        self.noise = noise_kind(noise)

    def settings(self) -> dict[str, Any]:
        """What the chain resolved (the stride a preset chose) and the checkpoint it loaded."""
        return {"stride": self.stride, "checkpoint": self.checkpoint}

    def predict(self, batch: Batch) -> Prediction:
        model = self.model
        images, chain = chain_for_batch(model, batch, self.t0, self.stride, self.noise, sampler=self.sampler)
        with model.metered() as usage:
            reconstructions = model.to_image(chain.run())
        residual = images - reconstructions
        maps = residual.abs() if self.error == "absolute" else residual**2
        return Prediction(maps, reconstructions, nfe=usage.calls, network_seconds=usage.seconds)
