"""Pyramidal Gaussian noise: the training noise of ANDi (Frotscher et al., 2023/24).

White Gaussian noise plus Gaussian draws at ever coarser grids, each upsampled bilinearly to the
image and weighted by `discount`^i, then scaled to unit standard deviation. Its low frequencies
make the network remove structures larger than a pixel, as simplex noise does, while staying
Gaussian, so the DDPM's closed forms hold.

The grids follow the released recursion (AlexanderFrotscher/ANDi `pyramid_noise_like`): level i
divides the previous level's side by r^i with a fresh r uniform in [2, 4) — level 0 is therefore a
second full-resolution draw — and the pyramid stops after the level whose side reaches 1 (at most
ten levels). The released code draws one tensor for the whole batch and scales it by the batch's
standard deviation; anobench draws each image from its own generator, so each image is scaled by
its own, which is what the batch's scale approximates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

MAX_LEVELS = 10


def level_sides(side: int, factors: Sequence[float]) -> list[int]:
    """The grid side of each level for the per-level factors r_i: side_i = ⌊side_{i−1} / r_i^i⌋ (at
    least 1), stopping after the first level of side 1."""
    sides = []
    for level, factor in enumerate(factors):
        side = max(1, int(side / factor**level))
        sides.append(side)
        if side == 1:
            break
    return sides


@dataclass(frozen=True)
class PyramidNoise:
    discount: float = 0.8

    @property
    def name(self) -> str:
        return "pyramid"

    def draw(self, generator: torch.Generator, shape: Sequence[int], timestep: int) -> torch.Tensor:
        """C×H×W float32 (square images): the full-resolution draw, then each level's grid draw."""
        channels, height, width = shape
        if height != width:
            raise ValueError(f"pyramid noise is drawn for square images, got {height}×{width}")
        white = torch.randn(channels, height, width, generator=generator)
        factors = (2 + 2 * torch.rand(MAX_LEVELS, generator=generator)).tolist()
        grids = [torch.randn(channels, side, side, generator=generator) for side in level_sides(height, factors)]
        return self.compose(white, grids)

    def compose(self, white: torch.Tensor, grids: Sequence[torch.Tensor]) -> torch.Tensor:
        """C×H×W white noise plus the C×s×s grid draws upsampled, level i weighted by discount^i,
        scaled to unit standard deviation."""
        noise = white.clone()
        for level, grid in enumerate(grids):
            upsampled = F.interpolate(grid[None], size=white.shape[-2:], mode="bilinear", align_corners=False)
            noise += self.discount**level * upsampled[0]
        return noise / noise.std()

    def draw_batch(
        self,
        generators: Sequence[torch.Generator],
        shape: Sequence[int],
        timestep: int | Sequence[int],
        device: torch.device,
    ) -> torch.Tensor:
        return torch.stack([self.draw(generator, shape, 0) for generator in generators]).to(device)
