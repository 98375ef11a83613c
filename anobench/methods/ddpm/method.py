"""DDPM: plain partial-diffusion reconstruction (the baseline of the THOR paper's Table 1).

Protocol (THOR paper): noise the image with Gaussian noise to T0 = 350, run the ancestral DDPM
chain back to 0, and take the residual: map = |x − x̂|, score = mean(map), where x̂ is the final
clean-image estimate clamped to [0, 1]. T0 is configurable (Wyatt and the AutoDDPM code use 200,
Bercea's later benchmark 250).

Departures: none from the protocol. `stride` > 1 runs a respaced chain (exact DDPM posterior
between kept steps) to save time on CPUs; stride 1 is the paper's chain (T0 + 1 network calls).
`schedule_arithmetic=float32 x0_clip=released clamp_reconstruction=false` is the released code of
the THOR paper's baseline (compai-lab `DDPM.get_anomaly`; golden test).
`error`, `variance` and simplex `noise` exist because AnoDDPM is this chain with simplex noise; both
configure `anobench.diffusion.reconstruction`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Mapping

from anobench.api import Batch, MethodContext, Prediction
from anobench.config import bounded, build_config, to_plain
from anobench.diffusion.reconstruction import PartialReconstruction
from anobench.diffusion.schedule import T_MAX


@dataclass(frozen=True)
class DDPMConfig:
    t0: int = bounded(350, 1, T_MAX)  # the noise level (timestep) the image is noised to
    stride: int | None = bounded(None, 1)  # None: the model preset's default (1 for `paper`)
    sampler: Literal["ddpm", "ddim"] = "ddpm"  # ancestral steps, or deterministic DDIM (η = 0)
    # the forward and reverse noise (the checkpoint's training noise)
    noise: Literal["gaussian", "simplex", "simplex-normalised"] = "gaussian"
    error: Literal["absolute", "squared"] = "absolute"  # map |x − x̂| or (x − x̂)²
    variance: Literal["fixed_small", "fixed_large"] = "fixed_small"  # reverse-step variance
    x0_clip: Literal["input-range", "released"] = "input-range"  # released: x̂0 to [−1, 1] whatever the input range
    schedule_arithmetic: Literal["float64", "float32"] = "float64"  # float32: the released scheduler's
    clamp_reconstruction: bool = True  # false: the residual of the unclamped final sample, as released


class DDPM:
    def __init__(self, config: DDPMConfig, context: MethodContext) -> None:
        self.config = config
        self.chain = PartialReconstruction(context, **asdict(config))

    def settings(self) -> dict[str, Any]:
        return {**to_plain(self.config), **self.chain.settings()}

    def predict(self, batch: Batch) -> Prediction:
        return self.chain.predict(batch)


def create(options: Mapping[str, str], context: MethodContext) -> DDPM:
    return DDPM(build_config(DDPMConfig, options), context)
