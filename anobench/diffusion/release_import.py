"""`anobench import-checkpoint --format thor-release`: the released THOR weights as an anobench checkpoint.

The THOR code saves `{"model_weights": <state dict of its DDPM module>, "optimizer_weights": …,
"epoch": …}`; the UNet's keys carry a `unet.` prefix and MONAI Generative's old names (attention
`to_q`/`proj_attn`, upsampling `conv`), and the LPIPS network THOR holds (`l_pips_sq.*`) is saved
alongside. MONAI's `DiffusionModelUNet.load_old_state_dict` knows the renaming; this module checks
that every UNet weight was filled from the file (MONAI silently keeps initial values otherwise)
and records where the weights came from and the input range they expect. The released trainer
trained in [-1, 1] (it maps images to 2x − 1) while its evaluation fed [0, 1]; the default is the
training range, `input_range=(0, 1)` reproduces the released evaluation.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import torch

from anobench.diffusion.checkpoint import FORMAT, atomic_torch_save, model_config
from anobench.diffusion.presets import build_unet, get_preset
from anobench.diffusion.schedule import ScheduleConfig
from anobench.errors import AnobenchError
from anobench.hashing import sha256_file

FORMATS = ("thor-release",)
UNET_PREFIX = "unet."


def _released_unet_state(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    if not path.is_file():
        raise AnobenchError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged or foreign file
        raise AnobenchError(f"{path} is not a readable PyTorch checkpoint ({str(error).splitlines()[0]})") from None
    weights = payload.get("model_weights") if isinstance(payload, dict) else None
    if not isinstance(weights, dict):
        raise AnobenchError(f"{path} is not a released THOR checkpoint (no `model_weights` state dict)")
    unet = {key[len(UNET_PREFIX) :]: value for key, value in weights.items() if key.startswith(UNET_PREFIX)}
    if not unet:
        raise AnobenchError(f"{path} holds no `unet.*` weights; is it a THOR DDPM checkpoint?")
    return unet, {"epoch": payload.get("epoch")}


def import_thor_release(
    source: Path, out: Path, preset_name: str, noise: str, input_range: tuple[float, float]
) -> dict[str, Any]:
    """Convert `source` into an anobench checkpoint at `out`; returns its config."""
    old_state, details = _released_unet_state(source)
    preset = get_preset(preset_name)
    unet = build_unet(preset)
    expected = unet.state_dict()
    remaining = dict(old_state)
    try:
        if set(old_state) == set(expected):
            unet.load_state_dict(old_state)
            remaining = {}
        else:
            with contextlib.redirect_stdout(io.StringIO()):  # MONAI prints its progress
                unet.load_old_state_dict(remaining)
    except (KeyError, RuntimeError) as error:
        raise AnobenchError(
            f"{source} does not fit the {preset.name!r} UNet ({type(error).__name__}: {str(error).splitlines()[0]}); "
            f"choose the preset it was trained with"
        ) from None
    filled = len(old_state) - len(remaining)
    if remaining or filled != len(expected):
        raise AnobenchError(
            f"{source} does not fit the {preset.name!r} UNet: {filled} of its {len(expected)} weights found, "
            f"unused keys {sorted(remaining)[:3]}"
        )
    config = model_config(preset, ScheduleConfig(), noise, input_range)
    atomic_torch_save(
        {
            "format": FORMAT,
            "model": unet.state_dict(),
            "config": config,
            "training": {
                "imported_from": str(source),
                "source_format": "thor-release",
                "source_sha256": sha256_file(source),
                **details,
            },
        },
        out,
    )
    return config
