"""A denoiser that runs in an autoencoder's latent space: the latent diffusion model (LDM) that
Pinaya et al. (MICCAI DGM4MICCAI 2022) brought to brain anomaly detection.

The autoencoder is MONAI's VQ-VAE (its encoder, vector quantiser and decoder); the diffusion UNet
denoises its latents, which have `embedding_dim` channels and 1/8 of the image's side (three
stride-2 levels). `anobench train --scheme latent` trains both, one after the other, into one
checkpoint: first the VQ-VAE (L1 reconstruction error plus the quantiser's loss), then the UNet on
the frozen VQ-VAE's quantised latents (noise prediction, MSE). The paper preset's VQ-VAE is the one
Wolleb et al. (MICCAI 2024) released for their LDM baseline (256 channels per level, two residual
layers, 256 codes of 128 dimensions); `cpu-small`'s is a narrower one for 64 × 64 images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from anobench.errors import AnobenchError

if TYPE_CHECKING:
    from monai.networks.nets import VQVAE, DiffusionModelUNet

LEVELS = 3  # stride-2 levels of the VQ-VAE: latents are 1/8 of the image's side, as released


@dataclass(frozen=True)
class LatentConfig:
    channels: tuple[int, ...]  # the VQ-VAE's width per level
    residual_layers: int
    residual_channels: int
    codes: int  # codebook size
    embedding_dim: int  # channels of the latents, which the UNet denoises


LATENT_FOR_PRESET = {
    "cpu-small": LatentConfig((32, 64, 64), 1, 32, 128, 16),
    "paper": LatentConfig((256, 256, 256), 2, 256, 256, 128),
}


def latent_for(preset_name: str) -> LatentConfig:
    return LATENT_FOR_PRESET[preset_name]


def build_autoencoder(config: LatentConfig) -> "VQVAE":
    from monai.networks.nets import VQVAE  # importing monai takes seconds: only when needed

    if len(config.channels) != LEVELS:
        raise AnobenchError(f"the VQ-VAE has {LEVELS} levels; got channels {list(config.channels)}")
    return VQVAE(
        spatial_dims=2,
        in_channels=1,
        out_channels=1,
        channels=config.channels,
        num_res_layers=config.residual_layers,
        num_res_channels=config.residual_channels,
        downsample_parameters=((2, 4, 1, 1),) * LEVELS,
        upsample_parameters=((2, 4, 1, 1, 0),) * LEVELS,
        num_embeddings=config.codes,
        embedding_dim=config.embedding_dim,
    )


class LatentDiffusionNetwork(nn.Module):
    """The VQ-VAE and the latent UNet as one network, trained and saved together.

    `forward(latents, t)` denoises latents; `forward(images)` (no timesteps) is the VQ-VAE's
    reconstruction and quantisation loss, which trains the first stage (one forward either way, so
    distributed training sees it)."""

    def __init__(self, unet: "DiffusionModelUNet", config: LatentConfig) -> None:
        super().__init__()
        self.config = config
        self.autoencoder = build_autoencoder(config)
        self.unet = unet

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """The encoder's latents, not quantised (the released LDM noises these at inference)."""
        return self.autoencoder.encode(images)

    def encode_quantised(self, images: torch.Tensor) -> torch.Tensor:
        """The quantised latents: what the UNet is trained to denoise."""
        return self.autoencoder.encode_stage_2_inputs(images)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents quantised to the codebook, then decoded to an image."""
        return self.autoencoder.decode_stage_2_outputs(latents)

    def forward(
        self, x: torch.Tensor, timesteps: torch.Tensor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if timesteps is None:
            return self.autoencoder(x)
        return self.unet(x, timesteps)
