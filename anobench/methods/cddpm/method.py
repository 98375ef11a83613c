"""cDDPM (Behrendt et al., Computers in Biology and Medicine 2025): reconstruction guided by an
encoding of the clean input.

A model trained with `anobench train --scheme conditioned` predicts x0 from x_t and the clean
image's encoding (`anobench.diffusion.condition`). At each timestep of the noise ensemble (250,
500 and 750 of the released configuration, noise index t − 1 as there) the whole image is noised
afresh and x0 is predicted in one call; the reconstruction x̂ is the mean of the predictions
(not clamped, as released; the stored reconstruction is clamped), and map = |x − x̂|,
post-processed as the released evaluation does (`postprocess=false` leaves the raw residual): the
data set's brain mask (else the image's non-zero pixels) eroded `W // 25` times, a 5×5 median; the
release removes small components only from its thresholded maps (`remove_small_components=true`
removes them from the map, as anobench did before 2026-12-07, with `erosion=3`). The noise is
rounded to float16 as the release's noise generator returns it (`noise_precision`).
NFE = number of ensemble timesteps; the encoder runs once per image, as released (its time counts
in the network seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping

import torch

from anobench.api import Batch, MethodContext, Prediction
from anobench.config import bounded, build_config, to_plain
from anobench.diffusion.denoiser import load_denoiser
from anobench.diffusion.noise import CaseRandom, NoisePrecision, in_precision, noise_kind
from anobench.diffusion.postprocessing import postprocess_maps
from anobench.errors import AnobenchError


@dataclass(frozen=True)
class CDDPMConfig:
    timesteps: tuple[int, ...] = (250, 500, 750)  # the noise ensemble; noised to index t − 1 as released
    noise: Literal["simplex-2d", "simplex", "gaussian"] = "simplex-2d"  # the checkpoint's training noise
    noise_precision: NoisePrecision = "float16"  # float16: the release's noise generator's
    postprocess: bool = True  # the release's brain mask erosion and 5×5 median
    erosion: int | None = bounded(None, 0)  # iterations; None: the release's W // 25
    remove_small_components: bool = False  # also remove components ≤ 7 pixels from the map (not released)


class CDDPM:
    def __init__(self, config: CDDPMConfig, context: MethodContext) -> None:
        self.model, self.checkpoint = load_denoiser(context, config.noise, scheme="conditioned")
        steps = self.model.schedule.num_train_timesteps
        if not config.timesteps or not all(1 <= t <= steps for t in config.timesteps):
            raise AnobenchError(f"timesteps must be between 1 and {steps}, got {list(config.timesteps)}")
        self.config = config
        self.noise = noise_kind(config.noise)

    def settings(self) -> dict[str, Any]:
        departures = [
            *([f"erosion {self.config.erosion}"] if self.config.erosion is not None else []),
            *(["components removed"] if self.config.remove_small_components else []),
            *(["float32 noise"] if self.config.noise_precision == "float32" else []),
        ]
        variant = {"variant": ", ".join(departures)} if departures else {}
        return {**to_plain(self.config), **variant, "checkpoint": self.checkpoint}

    def reconstruct(self, batch: Batch) -> torch.Tensor:
        """The mean of the x0 predictions over the ensemble, in [0, 1] units but not clamped (the
        released code scores the unclamped mean)."""
        model = self.model
        clean = model.to_model_range(batch.images.to(model.device))
        random = CaseRandom(batch.case_ids, batch.seed, model.device)
        features = model.encode(clean)
        total = torch.zeros_like(clean)
        for t in self.config.timesteps:
            index = t - 1
            noise = in_precision(random.sample(self.noise, clean.shape[1:], index), self.config.noise_precision)
            noisy = model.schedule.q_sample(clean, index, noise)
            total += model.to_unit_range(model.predict(noisy, index, features))
        return total / len(self.config.timesteps)

    def predict(self, batch: Batch) -> Prediction:
        with self.model.metered() as usage:
            reconstructions = self.reconstruct(batch)
        images = batch.images.to(reconstructions.device)
        maps = (images - reconstructions).abs()
        if self.config.postprocess:
            brains = None if batch.brain_masks is None else batch.brain_masks.to(maps.device)
            maps = postprocess_maps(maps, images, brains, self.config.erosion, self.config.remove_small_components)
        return Prediction(maps, reconstructions.clamp(0.0, 1.0), nfe=usage.calls, network_seconds=usage.seconds)


def create(options: Mapping[str, str], context: MethodContext) -> CDDPM:
    return CDDPM(build_config(CDDPMConfig, options), context)
