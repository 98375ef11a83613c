"""ANDi: aggregated normative diffusion (Frotscher et al., 2023/24).

A DDPM trained on pyramidal Gaussian noise (`anobench train --noise pyramid`) scores every pixel
by how far one denoising step, taken by the network, lands from the step the true posterior
takes. For each timestep t in [`start`, `stop`) the clean image is noised afresh to x_t with
noise ε; the network predicts ε̂; the deviation is the squared distance between the two
transition means, μ(x_t, ε) and μ(x_t, ε̂), pixel by pixel:

    d_t = (β_t / (√α_t √(1 − ᾱ_t)))² (ε − ε̂)²

The map is the geometric mean of d_t over the range (`aggregation=mean`: the arithmetic mean),
median-filtered 5 × 5. One network call per timestep: NFE = stop − start (125 by default). As
released, d_t is the difference of the two means computed in float32 (`arithmetic=release`, golden
test); `arithmetic=exact` takes it in the closed form above (anobench's map before 2026-12-07).

As released (AlexanderFrotscher/ANDi, conf/eval.yml): range 75 … 199, geometric mean, the forward
noise at evaluation Gaussian although the network was trained on pyramidal noise (`noise=pyramid`
noises with the training noise instead), maps in the network's [−1, 1] units. The released code
median-filters each 3-D volume 5 × 5 × 5 and normalises the maps of the whole test set to [0, 1];
anobench scores 2-D slices, so it filters each slice 5 × 5 (borders reflected, as scipy's default
there), and leaves the scale alone (every anobench threshold is chosen on the maps themselves).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping

import numpy as np
import torch
from scipy import ndimage

from anobench.api import Batch, MethodContext, Prediction
from anobench.config import bounded, build_config, to_plain
from anobench.diffusion.denoiser import load_denoiser
from anobench.diffusion.model import DiffusionModel
from anobench.diffusion.noise import CaseRandom, noise_kind
from anobench.diffusion.schedule import T_MAX, NoiseSchedule
from anobench.errors import AnobenchError


@dataclass(frozen=True)
class ANDiConfig:
    start: int = bounded(75, 1, T_MAX)  # first timestep of the range (T_l)
    stop: int = bounded(200, 2, T_MAX + 1)  # the range ends before it (T_u)
    # gmean: geometric mean of the deviations (as released); mean: arithmetic
    aggregation: Literal["gmean", "mean"] = "gmean"
    noise: Literal["gaussian", "pyramid"] = "gaussian"  # the forward noise at evaluation
    trained_noise: Literal["pyramid", "gaussian", "simplex"] = "pyramid"  # the checkpoint's training noise
    median: int = bounded(5, 1)  # side of the median filter on the map (1: none)
    arithmetic: Literal["release", "exact"] = "release"  # the deviation as released (float32 means) or in closed form


def transition_deviation(
    model: DiffusionModel, x0: torch.Tensor, t: int, noise: torch.Tensor, release: NoiseSchedule | None = None
) -> torch.Tensor:
    """d_t: the squared pixel-wise distance between the true transition mean from x_t (noised from
    the model-range images `x0` with `noise`) and the network's, one network call. With `release`
    (the schedule in float32) as the released code computes it: both means in float32, then their
    difference, which float32 resolves only to ~1e-7 of means near 1 (a relative 1e-4 of d_t);
    without, the difference in closed form, β_t / (√α_t √(1 − ᾱ_t)) · (ε − ε̂)."""
    if release is not None:
        alpha, alpha_bar = 1 - release.betas[t], release.alphas_cumprod[t]
        x_t = torch.sqrt(alpha_bar) * x0 + torch.sqrt(1 - alpha_bar) * noise
        predicted = model.predict(x_t, t)

        def mean(epsilon: torch.Tensor) -> torch.Tensor:
            return 1 / torch.sqrt(alpha) * (x_t - ((1 - alpha) / torch.sqrt(1 - alpha_bar)) * epsilon)

        return (mean(noise) - mean(predicted)) ** 2
    schedule = model.schedule
    beta = schedule.betas[t]
    scale = (beta / ((1 - beta).sqrt() * (1 - schedule.alpha_bar(t)).sqrt())).float()
    predicted = model.predict(schedule.q_sample(x0, t, noise), t)
    return (scale * (noise - predicted)) ** 2


class DeviationAggregate:
    """The running geometric (or arithmetic) mean of the deviations, one timestep at a time."""

    def __init__(self, geometric: bool) -> None:
        self.geometric = geometric
        self.total: torch.Tensor | float = 0.0
        self.count = 0

    def add(self, deviation: torch.Tensor) -> None:
        self.total = self.total + (deviation.log() if self.geometric else deviation)
        self.count += 1

    def result(self) -> torch.Tensor:
        assert isinstance(self.total, torch.Tensor), "no deviation was added"
        mean = self.total / self.count
        return mean.exp() if self.geometric else mean


class ANDi:
    def __init__(self, config: ANDiConfig, context: MethodContext) -> None:
        if config.start >= config.stop:
            raise AnobenchError(f"start must be below stop, got start={config.start} stop={config.stop}")
        if config.median % 2 == 0:
            raise AnobenchError(f"median needs an odd window side, got {config.median}")
        self.model, self.checkpoint = load_denoiser(context, config.trained_noise)  # a noise-predicting DDPM
        self.config = config
        self.noise = noise_kind(config.noise)
        self.release = self.model.schedule.with_arithmetic("float32") if config.arithmetic == "release" else None

    def settings(self) -> dict[str, Any]:
        variant = {"variant": "exact deviations"} if self.config.arithmetic == "exact" else {}
        return {**to_plain(self.config), **variant, "checkpoint": self.checkpoint}

    def predict(self, batch: Batch) -> Prediction:
        model = self.model
        x0 = model.to_model_range(batch.images.to(model.device))
        random = CaseRandom(batch.case_ids, batch.seed, model.device)
        aggregate = DeviationAggregate(self.config.aggregation == "gmean")
        with model.metered() as usage:
            for t in range(self.config.start, self.config.stop):
                noise = random.sample(self.noise, x0.shape[1:], t)
                aggregate.add(transition_deviation(model, x0, t, noise, self.release))
        maps = aggregate.result().cpu().numpy()
        if self.config.median > 1:
            maps = ndimage.median_filter(maps, size=(1, 1, self.config.median, self.config.median), mode="reflect")
        return Prediction(torch.from_numpy(np.ascontiguousarray(maps)), nfe=usage.calls, network_seconds=usage.seconds)


def create(options: Mapping[str, str], context: MethodContext) -> ANDi:
    return ANDi(build_config(ANDiConfig, options), context)
