"""Perceptual distance maps for THOR's eq. (3) (and AutoDDPM's mask), one per image.

Backends here need no external weights:
- `ssim`: 1 − SSIM map (MONAI's SSIM, 11×11 Gaussian window, σ = 1.5, data range 1), computed on
  a reflect-padded image so the map has the image's size;
- `none`: a map of ones, so the anomaly map is the residual alone.
The LPIPS backends of the paper (SqueezeNet/AlexNet/VGG trunks with ImageNet weights) and the
denoiser-feature backend come next (issue 3); the backend used is recorded with every result.
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F

from anobench.errors import AnobenchError

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5


class PerceptualBackend(Protocol):
    name: str

    def distance_map(self, estimate: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """B×1×H×W distances (≥ 0) between two batches of [0, 1] images."""
        ...


class NoPerceptual:
    name = "none"

    def distance_map(self, estimate: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(image)


class StructuralDissimilarity:
    name = "ssim"

    def distance_map(self, estimate: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        from monai.metrics.regression import compute_ssim_and_cs

        pad = SSIM_WINDOW // 2
        padded = [F.pad(x.float(), (pad, pad, pad, pad), mode="reflect") for x in (estimate, image)]
        ssim, _ = compute_ssim_and_cs(
            padded[0], padded[1], spatial_dims=2,
            kernel_size=(SSIM_WINDOW, SSIM_WINDOW), kernel_sigma=(SSIM_SIGMA, SSIM_SIGMA), data_range=1.0,
        )
        return (1 - ssim).clamp(min=0.0)


BACKENDS = {backend.name: backend for backend in (NoPerceptual, StructuralDissimilarity)}


def perceptual_backend(name: str) -> PerceptualBackend:
    if name not in BACKENDS:
        raise AnobenchError(f"unknown perceptual backend {name!r}; available: {', '.join(BACKENDS)}")
    return BACKENDS[name]()
