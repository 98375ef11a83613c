"""pDDPM's image cells: where a patch is noised, and how predicted patches are stitched back.

Training and the THOR-paper protocol use the plain grid: cells of `patch` pixels from the top-left
corner, stride = patch, the last row and column truncated at the image border (128 px with patch 48:
48 + 48 + 32). For sizes that are not a multiple of the patch, the original code also offers
full-size windows spread evenly from border to border (overlapping), stitched by
- `cut`: every pixel taken from exactly one window; neighbours split their overlap at its middle
  (the original pastes the plain grid's cells instead, which can reach past the window that was
  noised; anobench keeps every pixel inside the window that reconstructed it);
- `avg`: every pixel the mean over the windows that cover it (the original divides the running sum
  by the cover count after every window, not once at the end: a bug anobench does not repeat);
- `cut-release`: the original's `cut` as released, for parity.
A layout is the list of windows plus one weight image per window; the weights sum to one at
every pixel, so stitching is one weighted sum whatever the mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import torch

from anobench.errors import AnobenchError

Stitching = Literal["truncate", "cut", "avg", "cut-release"]
STITCHINGS: tuple[str, ...] = get_args(Stitching)


def default_patch_size(image_size: int) -> int:
    """The THOR-paper geometry (patch 48 at 128 px) scaled to the image size: 24 at 64 px."""
    return round(48 * image_size / 128)


def _grid_starts(size: int, patch: int) -> list[tuple[int, int]]:
    return [(start, min(start + patch, size)) for start in range(0, size, patch)]


def _spread_starts(size: int, patch: int) -> list[tuple[int, int]]:
    count = math.ceil(size / patch)
    if count == 1:
        return [(0, patch)]
    starts = [int(index * (size - patch) / (count - 1)) for index in range(count)]
    return [(start, start + patch) for start in starts]


def _axis_weights(windows: list[tuple[int, int]], size: int, stitching: str) -> torch.Tensor:
    """count × size weights of each window along one axis."""
    weights = torch.zeros(len(windows), size, dtype=torch.float64)
    if stitching == "avg":
        for index, (start, stop) in enumerate(windows):
            weights[index, start:stop] = 1.0
        return weights / weights.sum(0, keepdim=True)
    # plain grid (disjoint cells) or cut (overlaps split at their middle)
    bounds = [0] + [(windows[index + 1][0] + windows[index][1]) // 2 for index in range(len(windows) - 1)] + [size]
    for index in range(len(windows)):
        weights[index, bounds[index] : bounds[index + 1]] = 1.0
    return weights


@dataclass(frozen=True)
class PatchLayout:
    """Windows (top, bottom, left, right) over an H×W image and their stitching weights (K×H×W)."""

    windows: tuple[tuple[int, int, int, int], ...]
    weights: torch.Tensor

    @property
    def count(self) -> int:
        return len(self.windows)

    def window_masks(self) -> torch.Tensor:
        """K×H×W booleans: the pixels each window noises."""
        _, height, width = self.weights.shape
        masks = torch.zeros(self.count, height, width, dtype=torch.bool)
        for index, (top, bottom, left, right) in enumerate(self.windows):
            masks[index, top:bottom, left:right] = True
        return masks


def patch_layout(height: int, width: int, patch: int, stitching: str = "truncate") -> PatchLayout:
    if stitching not in STITCHINGS:
        raise AnobenchError(f"stitching must be one of {', '.join(STITCHINGS)}, got {stitching!r}")
    if not 1 <= patch <= min(height, width):
        raise AnobenchError(f"patch size {patch} does not fit a {height}×{width} image")
    starts = _grid_starts if stitching == "truncate" else _spread_starts
    rows, columns = starts(height, patch), starts(width, patch)
    # cut-release: each plain-grid cell is taken from the spread window of the same index
    cells = (_grid_starts(height, patch), _grid_starts(width, patch)) if stitching == "cut-release" else (rows, columns)
    row_weights = _axis_weights(cells[0], height, stitching)
    column_weights = _axis_weights(cells[1], width, stitching)
    windows = tuple((top, bottom, left, right) for top, bottom in rows for left, right in columns)
    weights = torch.einsum("rh,cw->rchw", row_weights, column_weights).reshape(len(windows), height, width)
    return PatchLayout(windows, weights.float())
