"""Simplex noise fields (AnoDDPM's noise, used by AnoDDPM, pDDPM and THOR-S).

A field is a sum of octaves of 3-D OpenSimplex noise sampled at (x/f, y/f, t/f) in pixel units:
octave k has wavelength f/2^k and amplitude persistence^k (defaults: 6 octaves, persistence 0.8,
f = 64 pixels, as in Wyatt et al.). The `opensimplex` package evaluates each octave over the whole
pixel grid in one call (numba-compiled), so no Python code runs per pixel.

Every field gets its own OpenSimplex seed, drawn from the case's generator: the released code
draws one field per batch and shares it across images, which makes a case's noise depend on its
batch; anobench draws per image. The field is not normalised by default (its per-image std is about
0.4–0.55 and its mean is not zero); normalising changes the effective noise level, so it is a
separate noise kind (`simplex-normalised`) that a checkpoint is trained with or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

_SEED_LIMIT = 2**62  # opensimplex folds any integer seed into its 64-bit LCG


@dataclass(frozen=True)
class SimplexNoise:
    octaves: int = 6
    persistence: float = 0.8
    wavelength: float = 64.0
    normalise: bool = False

    @property
    def name(self) -> str:
        return "simplex-normalised" if self.normalise else "simplex"

    def field(self, seed: int, height: int, width: int, timestep: int) -> np.ndarray:
        """One height×width field (float64) for OpenSimplex seed `seed` at time coordinate `timestep`."""
        import opensimplex  # compiles its kernels with numba on first use

        simplex = opensimplex.OpenSimplex(seed)
        rows, columns = np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64)
        total = np.zeros((height, width))
        for octave in range(self.octaves):
            wavelength = self.wavelength / 2**octave
            layer = simplex.noise3array(columns / wavelength, rows / wavelength, np.array([timestep / wavelength]))
            total += self.persistence**octave * layer[0]
        if self.normalise:
            total = (total - total.mean()) / max(total.std(), 1e-12)
        return total

    def draw(self, generator: torch.Generator, shape: Sequence[int], timestep: int) -> torch.Tensor:
        """C×H×W float32: one field per channel, each with a fresh seed from `generator`."""
        *channels, height, width = shape
        count = int(np.prod(channels, dtype=np.int64))
        seeds = torch.randint(_SEED_LIMIT, (count,), generator=generator).tolist()
        fields = np.stack([self.field(seed, height, width, timestep) for seed in seeds])
        return torch.from_numpy(fields.astype(np.float32)).reshape(tuple(shape))
