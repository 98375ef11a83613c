"""DDPM: plain partial-diffusion reconstruction (the baseline of the THOR paper's Table 1).

Protocol (THOR paper): noise the image with Gaussian noise to T0 = 350, run the ancestral DDPM
chain back to 0, and take the residual: map = |x − x̂|, score = mean(map), where x̂ is the final
clean-image estimate clamped to [0, 1]. T0 is configurable (Wyatt and the AutoDDPM code use 200,
Bercea's later benchmark 250).

Departures: none from the protocol. `stride` > 1 runs a respaced chain (exact DDPM posterior
between kept steps) to save time on CPUs; stride 1 is the paper's chain (T0 + 1 network calls).
`error`, `variance` and simplex `noise` exist for AnoDDPM (`anobench.methods.anoddpm`), which is
this chain with simplex noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace
from typing import Any, Literal, Mapping

from anobench.api import Batch, MethodContext, Prediction
from anobench.config import bounded, build_config, to_plain
from anobench.diffusion.checkpoint import default_checkpoint, load_model
from anobench.diffusion.model import DiffusionModel
from anobench.diffusion.noise import noise_kind
from anobench.diffusion.sampler import chain_for_batch
from anobench.diffusion.schedule import NoiseSchedule, T_MAX
from anobench.errors import AnobenchError


@dataclass(frozen=True)
class DDPMConfig:
    t0: int = bounded(350, 1, T_MAX)
    stride: int | None = bounded(None, 1)  # None: the model preset's default (1 for `paper`)
    sampler: Literal["ddpm", "ddim"] = "ddpm"  # ancestral steps, or deterministic DDIM (η = 0)
    noise: Literal["gaussian", "simplex", "simplex-normalised"] = "gaussian"
    error: Literal["absolute", "squared"] = "absolute"  # map |x − x̂| or (x − x̂)²
    variance: Literal["fixed_small", "fixed_large"] = "fixed_small"  # reverse-step variance


def load_denoiser(
    context: MethodContext, noise: str, patched: bool = False
) -> tuple[DiffusionModel, dict[str, Any]]:
    """The checkpoint given to the run, else the shipped one for (dataset, noise, preset, scheme).

    `patched`: the method needs a model trained on one noised cell per image with x0 prediction
    (pDDPM); otherwise a whole-image noise-predicting model.
    """
    scheme = "patched" if patched else "full"
    path = context.checkpoint or default_checkpoint(
        context.dataset, noise, context.preset, scheme, context.training_source, context.data_root
    )
    model, provenance = load_model(path, context.device)
    model.configure_inference(context.precision, context.compile)
    if patched and (model.patch_size is None or model.schedule.config.prediction != "sample"):
        raise AnobenchError(
            f"checkpoint {path} was trained on whole images; pDDPM needs a patch-trained x0-predicting "
            f"model (`anobench train --scheme patched`)"
        )
    if not patched and (model.patch_size is not None or model.schedule.config.prediction != "epsilon"):
        raise AnobenchError(
            f"checkpoint {path} was trained with --scheme patched (pDDPM); this method needs a "
            f"whole-image noise-predicting model"
        )
    if model.preset.image_size != context.image_size:
        raise AnobenchError(
            f"checkpoint {path} was trained at {model.preset.image_size}×{model.preset.image_size} "
            f"(preset {model.preset.name!r}); run with --preset {model.preset.name}"
        )
    if model.noise != noise:
        raise AnobenchError(f"checkpoint {path} was trained with {model.noise} noise, not {noise}")
    return model, provenance


class DDPM:
    def __init__(self, config: DDPMConfig, context: MethodContext) -> None:
        self.model, self.checkpoint = load_denoiser(context, config.noise)
        if config.variance != self.model.schedule.config.variance:
            self.model.schedule = NoiseSchedule(replace(self.model.schedule.config, variance=config.variance))
        self.stride = self.model.preset.default_stride if config.stride is None else config.stride
        self.config = config
        self.noise = noise_kind(config.noise)

    def settings(self) -> dict[str, Any]:
        return {**to_plain(self.config), "stride": self.stride, "checkpoint": self.checkpoint}

    def predict(self, batch: Batch) -> Prediction:
        model = self.model
        images, chain = chain_for_batch(
            model, batch, self.config.t0, self.stride, self.noise, sampler=self.config.sampler
        )
        with model.metered() as usage:
            reconstructions = model.to_image(chain.run().x0_hat)
        maps = (images - reconstructions).abs() if self.config.error == "absolute" else (images - reconstructions) ** 2
        return Prediction(maps, reconstructions, nfe=usage.calls, network_seconds=usage.seconds)


def create(options: Mapping[str, str], context: MethodContext) -> DDPM:
    return DDPM(build_config(DDPMConfig, options), context)
