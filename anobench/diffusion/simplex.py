"""Simplex noise fields (AnoDDPM's noise, used by AnoDDPM, pDDPM and THOR-S).

A field is a sum of octaves of 3-D OpenSimplex noise sampled at (x/f, y/f, t/f) in pixel units:
octave k has wavelength f/2^k and amplitude persistence^k (defaults: 6 octaves, persistence 0.8,
f = 64 pixels, as in Wyatt et al.). The `opensimplex` package evaluates each octave over the whole
pixel grid in one call (numba-compiled), so no Python code runs per pixel.

Every field is drawn from the case's generator: the released code draws one field per batch and
shares it across images, which makes a case's noise depend on its batch; anobench draws per image.
The released code re-seeds OpenSimplex for every field; re-seeding (opensimplex's permutation set-
up) is a Python loop that costs a third of a 64×64 field, so anobench keeps one seeded OpenSimplex
and draws each field as a window at a random offset (x, y and time) into it, uniform over a range
far wider than the noise's 256-cell lattice period: the same distribution of fields, with windows
that practically never overlap.

pDDPM uses the 2-D variant (`dimensions=2`, no time coordinate: the same field at every step).

The field is not normalised by default (its per-image std is about 0.4–0.55 and its mean is not
zero); normalising changes the effective noise level, so it is a separate noise kind
(`simplex-normalised`) that a checkpoint is trained with or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Sequence

import numpy as np
import torch

OFFSET_RANGE = 2.0**20  # pixels; 256 lattice cells of the coarsest octave are 16,384 px


@cache
def _opensimplex() -> Any:
    import opensimplex  # compiles its kernels with numba on first use

    return opensimplex.OpenSimplex(0)


@dataclass(frozen=True)
class SimplexNoise:
    octaves: int = 6
    persistence: float = 0.8
    wavelength: float = 64.0
    normalise: bool = False
    dimensions: int = 3

    @property
    def name(self) -> str:
        return "simplex-2d" if self.dimensions == 2 else "simplex-normalised" if self.normalise else "simplex"

    def field(self, offset: Sequence[float], height: int, width: int, timestep: int) -> np.ndarray:
        """One height×width field (float64): the window at (x, y[, t]) + `offset` (pixels)."""
        simplex = _opensimplex()
        columns = np.arange(width, dtype=np.float64) + offset[0]
        rows = np.arange(height, dtype=np.float64) + offset[1]
        time = np.array([timestep + offset[2]], dtype=np.float64)
        total = np.zeros((height, width))
        for octave in range(self.octaves):
            wavelength = self.wavelength / 2**octave
            if self.dimensions == 2:
                layer = simplex.noise2array(columns / wavelength, rows / wavelength)
            else:
                layer = simplex.noise3array(columns / wavelength, rows / wavelength, time / wavelength)[0]
            total += self.persistence**octave * layer
        if self.normalise:
            total = (total - total.mean()) / max(total.std(), 1e-12)
        return total

    def draw(self, generator: torch.Generator, shape: Sequence[int], timestep: int) -> torch.Tensor:
        """C×H×W float32: one field per channel, each at its own random offset from `generator`."""
        *channels, height, width = shape
        count = int(np.prod(channels, dtype=np.int64))
        offsets = (torch.rand(count, 3, generator=generator, dtype=torch.float64) * OFFSET_RANGE).tolist()
        fields = np.stack([self.field(offset, height, width, timestep) for offset in offsets])
        return torch.from_numpy(fields.astype(np.float32)).reshape(tuple(shape))
