"""AnoDDPM (Wyatt et al., CVPRW 2022): the partial-diffusion chain with simplex noise.

Simplex noise is used for the forward jump and for every reverse step. Presets (`preset=`):
- `thor-paper` (default): the protocol of the THOR paper's Table 1 — T0 = 250, map |x − x̂|,
  posterior variance fixed-small, the same UNet and schedule as THOR.
- `wyatt`: the original paper — noise to index λ − 1 = 199 and λ = 200 reverse steps, map
  (x − x̂)², posterior variance fixed-large (β_t).
`t0`, `error` and `variance` override the preset one by one; the resolved values are recorded.
Departure: the simplex field is drawn per image (the released code shared one per batch).
`schedule_arithmetic=float32 x0_clip=released clamp_reconstruction=false` is the THOR paper's
released chain (compai-lab `DDPM.get_anomaly` with simplex noise; golden test).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Mapping

from anobench.api import Batch, MethodContext, Prediction
from anobench.config import bounded, build_config
from anobench.diffusion.reconstruction import PartialReconstruction
from anobench.diffusion.schedule import T_MAX

PRESETS = {
    "thor-paper": {"t0": 250, "error": "absolute", "variance": "fixed_small"},
    "wyatt": {"t0": 199, "error": "squared", "variance": "fixed_large"},
}


@dataclass(frozen=True)
class AnoDDPMConfig:
    # thor-paper (T0 250, |x − x̂|) or wyatt (λ 200, (x − x̂)², fixed-large)
    preset: Literal["thor-paper", "wyatt"] = "thor-paper"
    t0: int | None = bounded(None, 1, T_MAX)  # the noise level (timestep) of the chain; None: the preset's
    error: Literal["absolute", "squared"] | None = None  # the map: |x − x̂| or (x − x̂)²; None: the preset's
    variance: Literal["fixed_small", "fixed_large"] | None = None  # the reverse steps' variance; None: the preset's
    stride: int | None = bounded(None, 1)  # None: the model preset's default (1 for `paper`)
    # the simplex field, as trained (normalised: unit spread per image)
    noise: Literal["simplex", "simplex-normalised"] = "simplex"
    sampler: Literal["ddpm", "ddim"] = "ddpm"  # ancestral DDPM steps or deterministic DDIM
    x0_clip: Literal["input-range", "released"] = "input-range"  # released: x̂0 to [−1, 1] whatever the input range
    schedule_arithmetic: Literal["float64", "float32"] = "float64"  # float32: the released scheduler's
    clamp_reconstruction: bool = True  # false: the residual of the unclamped final sample, as released


class AnoDDPM:
    def __init__(self, config: AnoDDPMConfig, context: MethodContext) -> None:
        chosen = {key: value for key, value in asdict(config).items() if key != "preset" and value is not None}
        self.preset = config.preset
        self.resolved = {**PRESETS[config.preset], "stride": None, **chosen}  # the preset, then what was set
        self.chain = PartialReconstruction(context, **self.resolved)

    def settings(self) -> dict[str, Any]:
        return {"preset": self.preset, **self.resolved, **self.chain.settings()}

    def predict(self, batch: Batch) -> Prediction:
        return self.chain.predict(batch)


def create(options: Mapping[str, str], context: MethodContext) -> AnoDDPM:
    return AnoDDPM(build_config(AnoDDPMConfig, options), context)
