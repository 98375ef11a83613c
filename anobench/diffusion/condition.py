"""A denoiser conditioned on the clean image: cDDPM (Behrendt et al., Computers in Biology and
Medicine 2025).

An encoder (MONAI's ResNet, 2-D, one input channel) maps the noise-free input to a feature vector; an MLP
embeds it into the UNet's timestep-embedding space, where it steers every residual block as the
timestep does. Encoder and UNet are trained together (`anobench train --scheme conditioned`).

The released network (OpenAI UNet) concatenates the embedded features to the time embedding;
MONAI's `DiffusionModelUNet` adds a class embedding to it instead, so anobench puts the feature
MLP where MONAI keeps its class embedding (`class_embedding`, called on `class_labels`). The
feature width is the time embedding's (4 × the first level's channels), as the released code sets
`cond_dim = 4 × unet_dim`. The encoder is ResNet-50 at the paper preset, as released (MONAI's 2-D
ResNet-50 has torchvision's layers and 23.8 M parameters). At `cpu-small`, whose UNet has 1.1 M
parameters, it is a ResNet-18 at a quarter of the width (16 … 128 channels, 0.7 M parameters): the
full-width ResNet-18 (11.2 M) would dwarf the UNet and make the shipped checkpoint 50 MB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from anobench.errors import AnobenchError

if TYPE_CHECKING:
    from monai.networks.nets import DiffusionModelUNet

# (depth, widen factor) per preset; widen factor 1 keeps the ImageNet ResNet's 64 … 512 channels
ENCODER_FOR_PRESET = {"cpu-small": ("resnet18", 0.25), "paper": ("resnet50", 1.0)}
ENCODERS = ("resnet18", "resnet34", "resnet50")


@dataclass(frozen=True)
class ConditionConfig:
    encoder: str  # a MONAI ResNet depth, one of ENCODERS
    widen_factor: float  # MONAI's: scales every stage's channels
    features: int  # width of the encoder's output, = the UNet's time embedding


def condition_for(preset_name: str, time_embedding: int) -> ConditionConfig:
    encoder, widen_factor = ENCODER_FOR_PRESET[preset_name]
    return ConditionConfig(encoder, widen_factor, time_embedding)


def build_encoder(config: ConditionConfig) -> nn.Module:
    """A randomly initialised 2-D ResNet taking one channel, with `features` outputs; its stem (7×7
    convolution at stride 2, max pooling) and projection shortcuts are torchvision's."""
    from monai.networks import nets

    if config.encoder not in ENCODERS:
        raise AnobenchError(f"unknown condition encoder {config.encoder!r}; use one of {', '.join(ENCODERS)}")
    return getattr(nets, config.encoder)(
        spatial_dims=2,
        n_input_channels=1,
        conv1_t_stride=2,
        widen_factor=config.widen_factor,
        bias_downsample=False,
        num_classes=config.features,
    )


class ConditionedUNet(nn.Module):
    """The UNet and its condition encoder as one network: `forward(x_t, t, clean)` encodes `clean`
    and denoises x_t under that condition (both in one call, so distributed training sees one
    forward); at inference `encode` runs once per image and `forward(x_t, t, features=…)` reuses
    its features for every timestep, as the release does."""

    def __init__(self, unet: "DiffusionModelUNet", config: ConditionConfig) -> None:
        super().__init__()
        width = config.features
        if unet.block_out_channels[0] * 4 != width:  # MONAI's time embedding width
            raise AnobenchError(
                f"condition features ({width}) must equal the time embedding ({unet.block_out_channels[0] * 4})"
            )
        self.config = config
        self.encoder = build_encoder(config)
        unet.num_class_embeds = config.features  # makes MONAI's forward add the class embedding
        # MONAI types it as an Embedding; a feature vector needs the released MLP instead
        unet.class_embedding = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))  # type: ignore[assignment]
        self.unet = unet

    def encode(self, clean: torch.Tensor) -> torch.Tensor:
        return self.encoder(clean)

    def forward(
        self,
        x: torch.Tensor,
        timesteps: torch.Tensor,
        clean: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if (clean is None) == (features is None):
            raise AnobenchError("give the clean images or their encoded features: one, not both")
        return self.unet(x, timesteps, class_labels=features if clean is None else self.encode(clean))
