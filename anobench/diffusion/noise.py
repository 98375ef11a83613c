"""Per-case random numbers: the noise a case gets depends only on (seed, case id).

Every case owns a CPU `torch.Generator` seeded from (seed, case id), and draws its noise in the
same order whatever batch it is in, so a case's map does not depend on batch size, batch order or
the other cases. Gaussian noise is drawn on the CPU and moved to the device, so CPU and GPU runs
see the same numbers; a simplex field's window is drawn on the CPU the same way and the field is
computed on the device, equal to the CPU's to rounding (see `anobench.diffusion.simplex`).
"""

from __future__ import annotations

from typing import Literal, Protocol, Sequence

import torch

from anobench.diffusion.pyramid_noise import PyramidNoise
from anobench.diffusion.simplex import SimplexNoise
from anobench.errors import AnobenchError
from anobench.hashing import seed_for


class NoiseKind(Protocol):
    """A noise distribution; `draw` returns a CPU tensor of `shape` from one generator, `draw_batch`
    one such draw per generator, stacked, on a device.

    `timestep` is the diffusion step the noise is drawn for: simplex fields are sampled at that
    time coordinate; Gaussian noise ignores it.
    """

    @property
    def name(self) -> str: ...

    def draw(self, generator: torch.Generator, shape: Sequence[int], timestep: int) -> torch.Tensor: ...

    def draw_batch(
        self,
        generators: Sequence[torch.Generator],
        shape: Sequence[int],
        timestep: int | Sequence[int],
        device: torch.device,
    ) -> torch.Tensor:
        """Draw i from generators[i] (in order, so one generator may appear several times), at
        timestep[i] when a sequence is given."""
        ...


class GaussianNoise:
    name = "gaussian"

    def draw(self, generator: torch.Generator, shape: Sequence[int], timestep: int) -> torch.Tensor:
        return torch.randn(tuple(shape), generator=generator)

    def draw_batch(
        self,
        generators: Sequence[torch.Generator],
        shape: Sequence[int],
        timestep: int | Sequence[int],
        device: torch.device,
    ) -> torch.Tensor:
        return torch.stack([torch.randn(tuple(shape), generator=generator) for generator in generators]).to(device)


NOISE_KINDS: dict[str, NoiseKind] = {
    "gaussian": GaussianNoise(),
    "simplex": SimplexNoise(),
    "simplex-normalised": SimplexNoise(normalise=True),
    "simplex-2d": SimplexNoise(dimensions=2),
    "pyramid": PyramidNoise(),
}


def noise_kind(name: str) -> NoiseKind:
    if name not in NOISE_KINDS:
        raise AnobenchError(f"unknown noise {name!r}; available: {', '.join(NOISE_KINDS)}")
    return NOISE_KINDS[name]


class NoiseSource(Protocol):
    """Where a chain's noise comes from: B×shape on the device for diffusion step `timestep`."""

    def sample(self, kind: NoiseKind, shape: Sequence[int], timestep: int) -> torch.Tensor: ...


class CaseRandom:
    """One generator per case of a batch.

    `shared=True` reproduces the released THOR code, which drew one noise tensor per batch: every
    case gets the draw of the batch's first case, so results depend on the batch composition.
    """

    def __init__(self, case_ids: Sequence[str], seed: int, device: torch.device, shared: bool = False) -> None:
        self.device = device
        self.shared = shared
        self.generators = [torch.Generator().manual_seed(seed_for(seed, case_id)) for case_id in case_ids]

    def sample(self, kind: NoiseKind, shape: Sequence[int], timestep: int) -> torch.Tensor:
        """B×shape on the device, row i drawn from case i's generator."""
        if self.shared:
            draw = kind.draw_batch(self.generators[:1], shape, timestep, self.device)
            return draw.expand(len(self.generators), *shape).contiguous()
        return kind.draw_batch(self.generators, shape, timestep, self.device)


NoisePrecision = Literal["float16", "float32"]


def in_precision(noise: torch.Tensor, precision: NoisePrecision) -> torch.Tensor:
    """`noise` rounded to float16 (as the Behrendt releases' noise generator returns it), or as drawn."""
    return noise.half().float() if precision == "float16" else noise
