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

On a GPU the fields are computed on the device, all cases and octaves of a step in a few batched
tensor operations (`lattice_fields`), so no noise crosses from the host per step. The offsets are
still drawn from each case's CPU generator, so a case gets the same window on any device. The
device version uses the package's lattice, permutation, gradients and kernel (attenuation
(2 − |d|²)⁴) over every lattice vertex within the kernel's reach, weighted as the package counts
them: in 2-D it counts every vertex in reach; in 3-D its case analysis (the region of the cell and
its two extra vertices) leaves out one faint vertex at about 4 % of points, and the same analysis,
written with tensor selects, gives each vertex's weight here. Both equal the package's noise to
rounding (≤ 1e-10 per octave, tested). The CPU keeps the package.

The field is not normalised by default (its per-image std is about 0.4–0.55 and its mean is not
zero); normalising changes the effective noise level, so it is a separate noise kind
(`simplex-normalised`) that a checkpoint is trained with or not.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import cache, reduce
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
        *_, height, width = shape
        fields = np.stack(
            [self.field(offset, height, width, timestep) for offset in _offsets(generator, shape).tolist()]
        )
        return torch.from_numpy(fields.astype(np.float32)).reshape(tuple(shape))

    def draw_batch(
        self,
        generators: Sequence[torch.Generator],
        shape: Sequence[int],
        timestep: int | Sequence[int],
        device: torch.device,
        on_device: bool | None = None,
    ) -> torch.Tensor:
        """len(generators)×shape on `device`, draw i from generators[i] (at timestep[i] when a
        sequence): the package on the CPU, the lattice sum on other devices or when `on_device`
        (the same windows; see the module's note)."""
        timesteps = [timestep] * len(generators) if isinstance(timestep, int) else list(timestep)
        if not (device.type != "cpu" if on_device is None else on_device):
            draws = [self.draw(generator, shape, step) for generator, step in zip(generators, timesteps)]
            return torch.stack(draws).to(device)
        offsets = torch.cat([_offsets(generator, shape) for generator in generators])
        per_draw = len(offsets) // len(generators)
        field_timesteps = torch.tensor(timesteps, dtype=torch.float64).repeat_interleave(per_draw)
        *_, height, width = shape
        fields = self.lattice_fields(offsets.to(device), height, width, field_timesteps.to(device))
        return fields.reshape(len(generators), *shape)

    def lattice_fields(self, offsets: torch.Tensor, height: int, width: int, timesteps: torch.Tensor) -> torch.Tensor:
        """N×H×W float32 fields at N offsets (N×3 float64, pixels) and N timesteps, on the offsets' device."""
        device = offsets.device
        columns = torch.arange(width, dtype=torch.float64, device=device) + offsets[:, :1]  # N×W
        rows = torch.arange(height, dtype=torch.float64, device=device) + offsets[:, 1:2]  # N×H
        times = timesteps.to(torch.float64)[:, None] + offsets[:, 2:3]  # N×1
        total = torch.zeros(len(offsets), height, width, dtype=torch.float64, device=device)
        for octave in range(self.octaves):
            wavelength = self.wavelength / 2**octave
            x = (columns / wavelength)[:, None, :]
            y = (rows / wavelength)[:, :, None]
            if self.dimensions == 2:
                layer = lattice_noise2(x, y)
            else:
                layer = lattice_noise3(x, y, (times / wavelength)[:, :, None])
            total += self.persistence**octave * layer
        if self.normalise:
            mean = total.mean(dim=(1, 2), keepdim=True)
            std = total.std(dim=(1, 2), keepdim=True, unbiased=False).clamp(min=1e-12)
            total = (total - mean) / std
        return total.float()


def _offsets(generator: torch.Generator, shape: Sequence[int]) -> torch.Tensor:
    """One (x, y, t) window offset per channel of `shape`, in pixels (float64, CPU)."""
    count = int(np.prod(shape[:-2], dtype=np.int64))
    return torch.rand(count, 3, generator=generator, dtype=torch.float64) * OFFSET_RANGE


# Lattice vertices (relative to the base corner of a point's stretched cell) that can lie within
# the kernel's reach (squared distance < 2), found by exhaustive search over offsets −3…3.
REACH_2D = ((-1, 1), (0, 0), (0, 1), (0, 2), (1, -1), (1, 0), (1, 1), (2, 0))
REACH_3D = (
    (-1, 0, 1),
    (-1, 1, 0),
    (-1, 1, 1),
    (0, -1, 1),
    (0, 0, 0),
    (0, 0, 1),
    (0, 0, 2),
    (0, 1, -1),
    (0, 1, 0),
    (0, 1, 1),
    (0, 1, 2),
    (0, 2, 0),
    (0, 2, 1),
    (1, -1, 0),
    (1, -1, 1),
    (1, 0, -1),
    (1, 0, 0),
    (1, 0, 1),
    (1, 0, 2),
    (1, 1, -1),
    (1, 1, 0),
    (1, 1, 1),
    (1, 2, 0),
    (2, 0, 0),
    (2, 0, 1),
    (2, 1, 0),
)


# The vertices of the package's three 3-D regions of a cell: the tetrahedra at (0,0,0) and (1,1,1)
# and the octahedron between them.
REGION_VERTICES_3D = (
    ((0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)),
    ((1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1)),
    ((1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, 0, 1), (0, 1, 1)),
)


@cache
def _tables(device: torch.device) -> dict[str, torch.Tensor]:
    """The seeded package's permutation tables, its gradient sets and the vertex steps in reach, on
    `device` once (a copy from the host per call would wait for the device's queued work)."""
    from opensimplex import constants

    simplex = _opensimplex()
    return {
        "perm": torch.as_tensor(simplex._perm, dtype=torch.long, device=device),
        "gradient_index3": torch.as_tensor(simplex._perm_grad_index3, dtype=torch.long, device=device),
        "gradients2": torch.as_tensor(constants.GRADIENTS2, dtype=torch.float64, device=device),
        "gradients3": torch.as_tensor(constants.GRADIENTS3, dtype=torch.float64, device=device),
        "reach2": torch.tensor(REACH_2D, dtype=torch.float64, device=device),
        "reach3": torch.tensor(REACH_3D, dtype=torch.float64, device=device),
        "region_vertices3": torch.tensor(
            [[step in region for region in REGION_VERTICES_3D] for step in REACH_3D], dtype=torch.float64, device=device
        ),  # V×3
    }


def _lattice_sum(
    points: list[torch.Tensor], steps: torch.Tensor, stretch: float, squish: float, gradient, norm: float, weights=None
) -> torch.Tensor:
    """Σ over the vertices in reach (`steps`: V×D from a cell's base corner) of
    w (2 − |d|²)⁴ ⟨gradient(vertex), d⟩ / norm, for broadcastable coordinate tensors `points`; the
    vertices are a leading axis of the intermediate tensors. `weights(position in the cell)` gives
    w (V×…), else 1."""
    stretched = sum(points) * stretch
    moved = [p + stretched for p in points]
    base = [torch.floor(m) for m in moved]  # the cell's base corner, stretched coordinates
    corner = sum(base) * squish
    to_base = [p - (b + corner) for p, b in zip(points, base)]  # small numbers: the rest is exact in float64
    step_offsets = steps + steps.sum(1, keepdim=True) * squish  # each vertex's offset from the base corner
    view = (-1,) + (1,) * points[0].dim()
    deltas = [d.unsqueeze(0) - step_offsets[:, axis].view(view) for axis, d in enumerate(to_base)]
    attenuation = (2 - reduce(operator.add, (d * d for d in deltas))).clamp(min=0)
    integer_steps = steps.long()
    vertices = [b.long().unsqueeze(0) + integer_steps[:, axis].view(view) for axis, b in enumerate(base)]
    value = sum(g * d for g, d in zip(gradient(vertices), deltas))
    contributions = (attenuation * attenuation) ** 2 * value
    if weights is not None:
        contributions = contributions * weights([m - b for m, b in zip(moved, base)])
    return contributions.sum(0) / norm


def _bit(code: torch.Tensor, bit: int) -> torch.Tensor:
    return (code & bit) != 0


def _first_absent_at_minus_one(code: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(−1, 1, 1), (1, −1, 1) or (1, 1, −1): −1 on the first axis whose bit `code` lacks."""
    x = ~_bit(code, 1)
    y = ~x & ~_bit(code, 2)
    return torch.where(x, -1, 1), torch.where(y, -1, 1), torch.where(~x & ~y, -1, 1)


def _two_on_first_present(code: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(2, 0, 0), (0, 2, 0) or (0, 0, 2): 2 on the first axis whose bit `code` has."""
    x = _bit(code, 1)
    y = ~x & _bit(code, 2)
    return torch.where(x, 2, 0), torch.where(y, 2, 0), torch.where(~x & ~y, 2, 0)


def _package_selection3(xins: torch.Tensor, yins: torch.Tensor, zins: torch.Tensor):
    """The package's 3-D case analysis for points at (xins, yins, zins) in their cell: the region
    (0: tetrahedron at (0,0,0), 1: at (1,1,1), 2: the octahedron) and its two extra vertices (each a
    triple of integer offset tensors), as `opensimplex`'s `_noise3` chooses them, with selects."""
    where = torch.where
    in_sum = xins + yins + zins

    def tetrahedron(toward, wins, points, pair_code, near_offsets, far_offsets):
        """`toward(u, v)`: u is nearer the tetrahedron's corner than v (> at (0,0,0), < at (1,1,1));
        `points`: the bit codes of the vertices next to the corner scored by x, y and z."""
        (a_point, b_point, third_point), a_score, b_score = points, xins, yins
        # the two closest of the three vertices next to the corner
        first = ~toward(b_score, a_score) & toward(zins, b_score)
        second = ~first & toward(b_score, a_score) & toward(zins, a_score)
        b_score, b_point = where(first, zins, b_score), where(first, third_point, b_point)
        a_score, a_point = where(second, zins, a_score), where(second, third_point, a_point)
        near = toward(wins, a_score) | toward(wins, b_score)  # the corner is one of the two closest
        code = where(near, where(toward(b_score, a_score), b_point, a_point), pair_code(a_point, b_point))
        x, y, z = _bit(code, 1), _bit(code, 2), _bit(code, 4)
        near0, near1 = near_offsets(x, y, z)
        far0, far1 = far_offsets(x, y, z)
        return (
            tuple(where(near, n, f) for n, f in zip(near0, far0)),
            tuple(where(near, n, f) for n, f in zip(near1, far1)),
        )

    lower = tetrahedron(  # at (0,0,0)
        lambda u, v: u > v,
        1 - in_sum,
        (1, 2, 4),
        torch.bitwise_or,
        lambda x, y, z: (
            (where(x, 1, -1), where(y, 1, where(x, -1, 0)), where(z, 1, 0)),
            (where(x, 1, 0), where(y, 1, where(x, 0, -1)), where(z, 1, -1)),
        ),
        lambda x, y, z: (
            (where(x, 1, 0), where(y, 1, 0), where(z, 1, 0)),
            (where(x, 1, -1), where(y, 1, -1), where(z, 1, -1)),
        ),
    )
    upper = tetrahedron(  # at (1,1,1): the mirror image
        lambda u, v: u < v,
        3 - in_sum,
        (6, 5, 3),
        torch.bitwise_and,
        lambda x, y, z: (
            (where(x, 2, 0), where(y, where(x, 1, 2), 0), where(z, 1, 0)),
            (where(x, 1, 0), where(y, where(x, 2, 1), 0), where(z, 2, 0)),
        ),
        lambda x, y, z: (
            (where(x, 1, 0), where(y, 1, 0), where(z, 1, 0)),
            (where(x, 2, 0), where(y, 2, 0), where(z, 2, 0)),
        ),
    )
    # the octahedron: the closest of (0,0,1)/(1,1,0) and of (0,1,0)/(1,0,1), then (1,0,0)/(0,1,1)
    # replaces the further of those two if it is closer
    p1, p2, p3 = xins + yins, xins + zins, yins + zins
    a_further, b_further, c_further = p1 > 1, p2 > 1, p3 > 1
    a_score, a_point = where(a_further, p1 - 1, 1 - p1), where(a_further, 3, 4)
    b_score, b_point = where(b_further, p2 - 1, 1 - p2), where(b_further, 5, 2)
    score = where(c_further, p3 - 1, 1 - p3)
    replace_a = (a_score <= b_score) & (a_score < score)
    replace_b = ~replace_a & (a_score > b_score) & (b_score < score)
    a_point, a_further = where(replace_a, where(c_further, 6, 1), a_point), where(replace_a, c_further, a_further)
    b_point, b_further = where(replace_b, where(c_further, 6, 1), b_point), where(replace_b, c_further, b_further)
    same_side, both_far = a_further == b_further, a_further & b_further
    on_far_side = where(a_further, a_point, b_point)
    on_near_side = where(a_further, b_point, a_point)
    far_extra = _two_on_first_present(a_point & b_point)
    near_extra = _first_absent_at_minus_one(a_point | b_point)
    mixed0, mixed1 = _first_absent_at_minus_one(on_far_side), _two_on_first_present(on_near_side)
    middle = (
        tuple(where(same_side, where(both_far, 1, 0), m) for m in mixed0),
        tuple(where(same_side, where(both_far, f, n), m) for f, n, m in zip(far_extra, near_extra, mixed1)),
    )
    region = where(in_sum <= 1, 0, where(in_sum >= 2, 1, 2))
    extras = tuple(
        tuple(where(region == 0, lo, where(region == 1, up, mid)) for lo, up, mid in zip(*triples))
        for triples in zip(lower, upper, middle)
    )
    return region, extras


def lattice_noise2(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    from opensimplex import constants

    tables = _tables(x.device)
    perm, gradients = tables["perm"], tables["gradients2"]

    def gradient(vertex: list[torch.Tensor]) -> list[torch.Tensor]:
        index = perm[(perm[vertex[0] & 0xFF] + vertex[1]) & 0xFF] & 0x0E
        return [gradients[index], gradients[index + 1]]

    return _lattice_sum(
        [x, y],
        tables["reach2"],
        constants.STRETCH_CONSTANT2,
        constants.SQUISH_CONSTANT2,
        gradient,
        constants.NORM_CONSTANT2,
    )


def lattice_noise3(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    from opensimplex import constants

    tables = _tables(x.device)
    perm, gradient_index, gradients = tables["perm"], tables["gradient_index3"], tables["gradients3"]

    def gradient(vertex: list[torch.Tensor]) -> list[torch.Tensor]:
        index = gradient_index[(perm[(perm[vertex[0] & 0xFF] + vertex[1]) & 0xFF] + vertex[2]) & 0xFF]
        return [gradients[index], gradients[index + 1], gradients[index + 2]]

    steps = tables["reach3"]

    def package_weights(position: list[torch.Tensor]) -> torch.Tensor:
        """How often the package counts each vertex in reach: in its region's vertices, plus once per
        extra vertex it is."""
        region, extras = _package_selection3(*position)
        view = (-1,) + (1,) * region.dim()
        weights = tables["region_vertices3"][:, region]  # V×…
        for extra in extras:
            equal = [steps[:, axis].long().view(view) == offset.unsqueeze(0) for axis, offset in enumerate(extra)]
            weights = weights + (equal[0] & equal[1] & equal[2])
        return weights

    return _lattice_sum(
        [x, y, z],
        steps,
        constants.STRETCH_CONSTANT3,
        constants.SQUISH_CONSTANT3,
        gradient,
        constants.NORM_CONSTANT3,
        package_weights,
    )
