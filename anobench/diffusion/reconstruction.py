"""Partial-diffusion reconstruction and its residual map: the algorithm of DDPM (THOR paper's
baseline) and of AnoDDPM (the same chain with simplex noise), which both methods configure.

Noise the image to T0, run the chain back to 0 (ancestral DDPM steps, or DDIM), take the final
clean-image estimate x̂ clamped to [0, 1] and the residual |x − x̂| (or (x − x̂)²). `stride` > 1 runs
a respaced chain (the exact posterior between kept steps); stride 1 is the papers' chain (T0 + 1
network calls). `variance` replaces the schedule's reverse-step variance (fixed-small, as trained,
or fixed-large β_t, as AnoDDPM's original).

The released code of the THOR paper's baselines (compai-lab's `DDPM.get_anomaly`, golden test)
differs by three choices, each an option: its scheduler's float32 arithmetic
(`schedule_arithmetic`), its clip of x̂0 to [−1, 1] whatever the input range (`x0_clip=released`),
and its residual of the final sample unclamped (`clamp_reconstruction=false`). For anobench's
[−1, 1] checkpoints only the arithmetic changes a map (by < 1e-4 of a pixel value).
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
        self,
        context: MethodContext,
        t0: int,
        stride: int | None,
        sampler: str,
        noise: str,
        error: str,
        variance: str,
        x0_clip: str = "input-range",
        schedule_arithmetic: str = "float64",
        clamp_reconstruction: bool = True,
    ) -> None:
        self.model, self.checkpoint = load_denoiser(context, noise)
        if variance != self.model.schedule.config.variance:
            self.model.schedule = NoiseSchedule(replace(self.model.schedule.config, variance=variance))
        self.schedule = self.model.schedule.with_arithmetic(schedule_arithmetic)
        self.x0_clip, self.clamp_reconstruction = x0_clip, clamp_reconstruction
        self.t0, self.sampler, self.error = t0, sampler, error
        self.stride = self.model.preset.default_stride if stride is None else stride
        self.noise = noise_kind(noise)

    def settings(self) -> dict[str, Any]:
        """What the chain resolved (the stride a preset chose), the checkpoint it loaded, and a
        `variant` naming the released choices taken."""
        released = [
            *(["float32"] if self.schedule.arithmetic == "float32" else []),
            *(["x0 clip [-1, 1]"] if self.x0_clip == "released" else []),
            *(["unclamped"] if not self.clamp_reconstruction else []),
        ]
        variant = {"variant": ", ".join(released)} if released else {}
        return {"stride": self.stride, **variant, "checkpoint": self.checkpoint}

    def predict(self, batch: Batch) -> Prediction:
        model = self.model
        images, chain = chain_for_batch(
            model,
            batch,
            self.t0,
            self.stride,
            self.noise,
            sampler=self.sampler,
            schedule=self.schedule,
            x0_clip=self.x0_clip,
        )
        with model.metered() as usage:
            final = model.to_unit_range(chain.run())
        clamped = final.clamp(0.0, 1.0)
        residual = images - (clamped if self.clamp_reconstruction else final)
        maps = residual.abs() if self.error == "absolute" else residual**2
        return Prediction(maps, clamped, nfe=usage.calls, network_seconds=usage.seconds)
