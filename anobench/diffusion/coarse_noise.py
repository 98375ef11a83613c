"""Coarse noise: the corruption a denoising autoencoder is trained to undo (Kascenas et al., MIDL
2022).

Gaussian noise is drawn on a coarse grid — 16 × 16 for 128-pixel images, scaled with the image —
upsampled bilinearly with the grid's corners on the image's corners (the released code calls
`upsample_bilinear`, which aligns corners), and shifted cyclically by one random offset per batch
along each axis, so the blobs do not sit on a fixed lattice. It is added with standard deviation
0.2 (in the [0, 1] units of the images) and only inside the foreground (pixels above 0.01): the
network learns to remove blobs of roughly a lesion's size from brain tissue.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

COARSE_NOISE_STD = 0.2  # in [0, 1] image units
GRID_AT_128 = 16  # coarse grid side for a 128-pixel image
FOREGROUND = 0.01  # [0, 1] images: pixels above it are foreground (noised in training, scored at inference)


def grid_side(image_side: int) -> int:
    """The coarse grid's side for an image side: 16 at 128 px, scaled, at least 1."""
    return max(1, round(GRID_AT_128 * image_side / 128))


def coarse_noise(generator: torch.Generator, shape: Sequence[int]) -> torch.Tensor:
    """Unit-scale coarse noise of `shape` (B×C×H×W, on the CPU): the grid draw for all images first,
    then the batch's one shift (rows, columns)."""
    batch, channels, height, width = shape
    grid = torch.randn(batch, channels, grid_side(height), grid_side(width), generator=generator)
    fine = F.interpolate(grid, size=(height, width), mode="bilinear", align_corners=True)
    rows, columns = (int(torch.randint(side, (1,), generator=generator)) for side in (height, width))
    return torch.roll(fine, shifts=(rows, columns), dims=(-2, -1))
