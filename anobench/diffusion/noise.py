"""Per-case random numbers: the noise a case gets depends only on (seed, case id).

Every case owns a CPU `torch.Generator` seeded from (seed, case id), and draws its noise in the
same order whatever batch it is in, so a case's map does not depend on batch size, batch order or
the other cases. Noise is drawn on the CPU and moved to the device, so CPU and GPU runs see the
same numbers.
"""

from __future__ import annotations

from typing import Protocol, Sequence

import torch

from anobench.errors import AnobenchError
from anobench.hashing import seed_for


class NoiseKind(Protocol):
    """A noise distribution; `draw` returns a CPU tensor of `shape` from one generator."""

    name: str

    def draw(self, generator: torch.Generator, shape: Sequence[int]) -> torch.Tensor: ...


class GaussianNoise:
    name = "gaussian"

    def draw(self, generator: torch.Generator, shape: Sequence[int]) -> torch.Tensor:
        return torch.randn(tuple(shape), generator=generator)


def noise_kind(name: str) -> NoiseKind:
    kinds = {"gaussian": GaussianNoise}
    if name not in kinds:
        raise AnobenchError(f"unknown noise {name!r}; available: {', '.join(kinds)}")
    return kinds[name]()


class CaseRandom:
    """One generator per case of a batch."""

    def __init__(self, case_ids: Sequence[str], seed: int, device: torch.device) -> None:
        self.device = device
        self.generators = [torch.Generator().manual_seed(seed_for(seed, case_id)) for case_id in case_ids]

    def sample(self, kind: NoiseKind, shape: Sequence[int]) -> torch.Tensor:
        """B×shape on the device, row i drawn from case i's generator."""
        return torch.stack([kind.draw(generator, shape) for generator in self.generators]).to(self.device)
