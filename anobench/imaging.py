"""Slice preparation shared by the brain adapters: the THOR work's intensity and geometry steps.

THOR prepares a slice by dividing by its 98th percentile (values above 1 set to 1), padding to a
square with the image minimum, and resizing bilinearly. Masks go through the same geometry and are
re-binarised: a resized mask pixel is lesion when at least half of it was lesion.
"""

from __future__ import annotations

import numpy as np


def normalise_98th_percentile(image: np.ndarray) -> np.ndarray:
    """Divide by the 98th percentile and cap at 1 (a constant image stays as it is)."""
    image = image.astype(np.float32)
    scale = float(np.percentile(image, 98))
    if scale <= 0:
        return np.clip(image, 0.0, 1.0)
    return np.minimum(image / scale, 1.0)


def pad_to_square(image: np.ndarray, fill: float) -> np.ndarray:
    """Pad the shorter axis on both sides (extra pixel after) to a square, with `fill`."""
    height, width = image.shape
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    return np.pad(
        image,
        ((top, side - height - top), (left, side - width - left)),
        mode="constant",
        constant_values=fill,
    )


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of a 2-D float image to size×size (antialiased when shrinking)."""
    if image.shape == (size, size):
        return image.astype(np.float32)
    import torch  # here, not at import: listing a data set needs no torch
    import torch.nn.functional as F

    # In float64: torch picks its vectorised kernels by CPU, and in float32 their rounding differs
    # enough to flip 8-bit pixels, so the phantom would depend on the machine that made it.
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float64))[None, None]
    shrinking = size < max(image.shape)
    resized = F.interpolate(tensor, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinking)
    return resized[0, 0].numpy().astype(np.float32)


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """Resize a binary mask through the image geometry and re-binarise at one half."""
    return resize_image(mask.astype(np.float32), size) >= 0.5


def prepare_slice(image: np.ndarray, size: int) -> np.ndarray:
    """THOR's preparation of one 2-D slice: 98th-percentile scaling, square pad, resize."""
    scaled = normalise_98th_percentile(image)
    return np.clip(resize_image(pad_to_square(scaled, float(scaled.min())), size), 0.0, 1.0)


NATIVE_SIZE = 128  # the THOR work prepared every data set at 128 px; presets resize from there


def prepare_for_preset(image: np.ndarray, image_size: int) -> np.ndarray:
    """`prepare_slice` at 128 px, then resized to the preset's size, in [0, 1] (as the PNG layouts are read)."""
    return np.clip(resize_image(prepare_slice(image, NATIVE_SIZE), image_size), 0.0, 1.0)


def box_after_preparation(
    left: float, top: float, right: float, bottom: float, height: int, width: int, size: int
) -> tuple[int, int, int, int]:
    """Pixel-edge box coordinates of an H×W image → (top, left, bottom, right) after square padding
    and resizing to size×size: shifted by the padding, scaled, widened to whole pixels."""
    side = max(height, width)
    pad_top, pad_left = (side - height) // 2, (side - width) // 2
    scale = size / side
    rows = (np.floor((top + pad_top) * scale), np.ceil((bottom + pad_top) * scale))
    columns = (np.floor((left + pad_left) * scale), np.ceil((right + pad_left) * scale))
    return (int(max(rows[0], 0)), int(max(columns[0], 0)), int(min(rows[1], size)), int(min(columns[1], size)))


def prepare_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """The geometry of `prepare_slice` applied to a mask."""
    return resize_mask(pad_to_square(mask.astype(np.float32), 0.0), size)
