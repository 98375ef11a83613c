"""THOR's building blocks, each a small pure function on B×1×H×W tensors (one image at a time).

The released code normalises, smooths and draws noise over the whole batch array, so an image's
map depended on its batch neighbours; every function here works per image, which makes THOR
batch-invariant (the paper's numbers were produced at batch size 1, where both agree). The
released batch coupling is kept as an option (`across_batch`) to show what it changes.

On a GPU the smoothing, grey morphology and harmonic mean run on the device (kornia, torch) with
the CPU path's semantics — scipy's half-sample-symmetric borders and truncation at 4σ for the
Gaussian, flat square elements with 'nearest' borders for the morphology (kornia's geodesic
border is the same for flat elements) — so maps never leave the device; on the CPU scipy does it
(`device_ops` forces either path; the two agree within 1e-5, tested).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from scipy import ndimage, stats

NORMALISATION_EPSILON = 1e-8
FINAL_MAP_CEILING = 0.999


def scaled_pixels(pixels_at_128: float, side: int) -> float:
    """A length given in pixels at 128×128, at another image side."""
    return pixels_at_128 * side / 128


def scaled_kernel(size_at_128: int, side: int) -> int:
    """A kernel size at 128×128 scaled to `side`, rounded up to the next odd size."""
    size = math.ceil(size_at_128 * side / 128)
    return size if size % 2 else size + 1


GAUSSIAN_TRUNCATE = 4.0  # scipy.ndimage.gaussian_filter's default: the kernel reaches 4σ


def _device_ops(maps: torch.Tensor, requested: bool | None) -> bool:
    return maps.is_cuda if requested is None else requested


def _symmetric_pad(maps: torch.Tensor, radius: int) -> torch.Tensor:
    """Half-sample symmetric padding (d c b a | a b c d), scipy's 'reflect' mode, in both image axes."""
    for axis in (-1, -2):
        head = maps.narrow(axis, 0, radius).flip(axis)
        tail = maps.narrow(axis, maps.shape[axis] - radius, radius).flip(axis)
        maps = torch.cat([head, maps, tail], dim=axis)
    return maps


def _gaussian_on_device(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    from kornia.filters import filter2d_separable, get_gaussian_kernel1d

    radius = int(GAUSSIAN_TRUNCATE * sigma + 0.5)
    kernel = get_gaussian_kernel1d(2 * radius + 1, sigma, device=maps.device, dtype=maps.dtype)
    return filter2d_separable(_symmetric_pad(maps, radius), kernel, kernel, padding="valid")


def _per_image(maps: torch.Tensor, function) -> torch.Tensor:
    array = maps.detach().float().cpu().numpy()
    result = np.stack([function(image[0])[None] for image in array])
    return torch.from_numpy(result.astype(np.float32)).to(maps.device)


def smooth(
    maps: torch.Tensor, sigma: float, across_batch: bool = False, device_ops: bool | None = None
) -> torch.Tensor:
    """Gaussian smoothing in the image plane (scipy's default reflect borders).

    `across_batch` filters the B×1×H×W array along every axis, as the released code did, so
    neighbouring images of a batch bleed into each other (scipy only).
    """
    if _device_ops(maps, device_ops) and not across_batch:
        return _gaussian_on_device(maps.float(), sigma)
    if across_batch:
        array = ndimage.gaussian_filter(maps.detach().float().cpu().numpy(), sigma)
        return torch.from_numpy(array.astype(np.float32)).to(maps.device)
    return _per_image(maps, lambda image: ndimage.gaussian_filter(image, sigma))


def normalise_by_max(maps: torch.Tensor, across_batch: bool = False) -> torch.Tensor:
    """Each image divided by its own maximum (+1e-8; the batch's maximum with `across_batch`), in [0, 1]."""
    peak = maps.amax() if across_batch else maps.amax(dim=(1, 2, 3), keepdim=True)
    return (maps / (peak + NORMALISATION_EPSILON)).clamp(0.0, 1.0)


def compose_map(
    residual: torch.Tensor,
    perceptual: torch.Tensor,
    sigma: float,
    across_batch: bool = False,
    device_ops: bool | None = None,
) -> torch.Tensor:
    """Eq. (3): residual × σ-smoothed perceptual map (clipped to [0, 1]), normalised per image."""
    smoothed = smooth(perceptual, sigma, across_batch, device_ops).clamp(0.0, 1.0)
    return normalise_by_max(residual * smoothed, across_batch)


def guidance_mask(maps: torch.Tensor, kernel: int, device_ops: bool | None = None) -> torch.Tensor:
    """clip((dilation(closing(a)) + a) / 2, 0, 1) with flat kernel×kernel grey morphology, 'nearest' borders."""
    if _device_ops(maps, device_ops):
        from kornia.morphology import closing, dilation

        element = torch.ones(kernel, kernel, device=maps.device, dtype=torch.float32)
        grown = dilation(closing(maps.float(), element, border_type="geodesic"), element, border_type="geodesic")
        return ((grown + maps) / 2).clamp(0.0, 1.0)

    def close_then_dilate(image: np.ndarray) -> np.ndarray:
        closed = ndimage.grey_closing(image, size=(kernel, kernel), mode="nearest")
        return ndimage.grey_dilation(closed, size=(kernel, kernel), mode="nearest")

    return ((_per_image(maps, close_then_dilate) + maps) / 2).clamp(0.0, 1.0)


def blend(mask: torch.Tensor, estimate: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Eq. (4): keep the estimate where the mask says anomalous, the input elsewhere; in [0, 1]."""
    return (mask * estimate + (1 - mask) * image).clamp(0.0, 1.0)


def harmonic_mean(maps: list[torch.Tensor], device_ops: bool | None = None) -> torch.Tensor:
    """Eq. (5) with scipy.stats.hmean semantics: 0 wherever any map is 0."""
    if _device_ops(maps[0], device_ops):
        stacked = torch.stack(maps).float()
        positive = (stacked > 0).all(dim=0)
        return torch.where(
            positive, len(maps) / (1 / stacked.clamp_min(1e-30)).sum(dim=0), torch.zeros_like(stacked[0])
        )
    on_host = torch.stack(maps).detach().float().cpu().numpy()
    with warnings.catch_warnings(), np.errstate(divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = stats.hmean(on_host, axis=0)
    return torch.from_numpy(np.asarray(mean, dtype=np.float32)).to(maps[0].device)


def snap_to_kept(wanted: list[int], kept: list[int]) -> list[int]:
    """Each wanted timestep moved to the nearest kept one (the larger on a tie), in chain order.

    With stride 1, or a stride dividing every wanted timestep, nothing moves.
    """
    snapped = {min(kept, key=lambda k: (abs(k - t), -k)) for t in wanted}
    return sorted(snapped, reverse=True)
