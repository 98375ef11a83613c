"""Model presets: the UNet architecture and image size that a checkpoint is trained at.

`paper` is the THOR paper's network (MONAI DiffusionModelUNet, channels 128/256/256, attention
F/T/T, one res block, 256 channels per head, 128×128). `cpu-small` is a ~1 M-parameter network at
64×64 for machines without a GPU; a chain on it costs about 50× less than on `paper`. Each preset
also names the sampler stride used when a run does not choose one (1 = the paper's protocol).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from anobench.errors import AnobenchError

if TYPE_CHECKING:
    from monai.networks.nets import DiffusionModelUNet


PRECISION_NAMES = ("fp32", "bf16", "fp16")  # how the network may run: float32, or bf16 / fp16 autocast


@dataclass(frozen=True)
class ModelPreset:
    name: str
    image_size: int
    channels: tuple[int, ...]
    attention_levels: tuple[bool, ...]
    num_res_blocks: int
    num_head_channels: int
    default_stride: int


PRESETS = {
    preset.name: preset
    for preset in (
        ModelPreset("cpu-small", 64, (32, 64, 64), (False, False, True), 1, 64, default_stride=10),
        ModelPreset("paper", 128, (128, 256, 256), (False, True, True), 1, 256, default_stride=1),
    )
}


def get_preset(name: str) -> ModelPreset:
    if name not in PRESETS:
        raise AnobenchError(f"unknown preset {name!r}; available: {', '.join(PRESETS)}")
    return PRESETS[name]


def build_unet(preset: ModelPreset, image_channels: int = 1) -> "DiffusionModelUNet":
    """The preset's UNet for images of `image_channels` channels (an LDM's latents have more than one)."""
    from monai.networks.nets import DiffusionModelUNet  # importing monai takes seconds: only when needed

    return DiffusionModelUNet(
        spatial_dims=2,
        in_channels=image_channels,
        out_channels=image_channels,
        channels=preset.channels,
        attention_levels=preset.attention_levels,
        num_res_blocks=preset.num_res_blocks,
        num_head_channels=preset.num_head_channels,
    )
