"""Checkpoints: weights plus everything needed to rebuild the model, loaded weights-only.

A checkpoint is a dict of plain values and tensors (`torch.load(..., weights_only=True)` reads it):
`format`, `model` (the UNet state dict), and `config` (preset, schedule, noise, input range and the
training settings that made it). Shipped checkpoints live in `anobench/checkpoints/` with a
manifest giving their sha256 and the exact `anobench train` command that produced them.
"""

from __future__ import annotations

import dataclasses
import shlex
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from anobench.diffusion.condition import ConditionConfig, condition_for
from anobench.diffusion.latent import LatentConfig
from anobench.diffusion.model import DiffusionModel
from anobench.diffusion.presets import ModelPreset, get_preset
from anobench.diffusion.schedule import ScheduleConfig
from anobench.errors import AnobenchError
from anobench.hashing import sha256_file
from anobench.paths import user_checkpoints
from anobench.store.atomic import atomic_write

FORMAT = "anobench-checkpoint-v1"


def atomic_torch_save(value: Any, path: Path) -> None:
    atomic_write(path, lambda temporary: torch.save(value, temporary))


def model_config(
    preset: ModelPreset,
    schedule: ScheduleConfig,
    noise: str,
    input_range: tuple[float, float],
    patch_size: int | None = None,
    condition: ConditionConfig | None = None,
    latent: LatentConfig | None = None,
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "preset": preset.name,
        "architecture": dataclasses.asdict(preset),
        "schedule": dataclasses.asdict(schedule),
        "noise": noise,
        "input_range": list(input_range),
        "patch_size": patch_size,
    }
    if condition is not None:
        config["condition"] = dataclasses.asdict(condition)
    if latent is not None:
        config["latent"] = dataclasses.asdict(latent)
    return config


REQUIRED_CONFIG = ("preset", "architecture", "schedule", "noise", "input_range")


def read_checkpoint(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise AnobenchError(f"checkpoint {path} is a directory; pass the checkpoint file (.pt) itself")
    if not path.is_file():
        raise AnobenchError(f"checkpoint {path} does not exist")
    try:
        with warnings.catch_warnings():  # torch's notes on a foreign pickle would precede our one line
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged or foreign file
        raise AnobenchError(
            f"checkpoint {path} is corrupt or not an anobench checkpoint ({_load_failure(error)})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise AnobenchError(f"checkpoint {path} is not an anobench checkpoint (expected format {FORMAT!r})")
    config = payload.get("config")
    if not isinstance(config, dict) or not isinstance(payload.get("model"), dict):
        lacking = "its config" if not isinstance(config, dict) else "its model weights"
        raise AnobenchError(
            f"checkpoint {path} is incomplete: it lacks {lacking} (written by another tool, or damaged)"
        )
    missing = [key for key in REQUIRED_CONFIG if key not in config]
    if missing:
        raise AnobenchError(f"checkpoint {path} is incomplete: its config lacks {', '.join(missing)}")
    return payload


def _load_failure(error: Exception) -> str:
    """Why torch could not read a file, without its advice to retry with weights_only=False: anobench
    never unpickles arbitrary objects, and a file that needs it is not one of its checkpoints."""
    text = str(error)
    if "weights_only" in text or "Weights only load failed" in text:
        return "it holds Python objects beyond tensors and plain values, which anobench refuses to unpickle"
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return first


def load_model(path: Path, device: torch.device) -> tuple[DiffusionModel, dict[str, Any]]:
    """Rebuild the model a checkpoint describes; returns it with the checkpoint's provenance."""
    payload = read_checkpoint(path)
    config = payload["config"]
    preset = get_preset(config["preset"])
    if dataclasses.asdict(preset) != _as_tuples(config["architecture"]):
        raise AnobenchError(
            f"checkpoint {path} was made with a different {preset.name!r} architecture "
            f"({config['architecture']}) than this anobench defines ({dataclasses.asdict(preset)})"
        )
    model = DiffusionModel(
        preset,
        ScheduleConfig(**config["schedule"]),
        tuple(config["input_range"]),
        config["noise"],
        device,
        config.get("patch_size"),
        _condition(path, preset, config.get("condition")),
        LatentConfig(**_as_tuples(config["latent"])) if config.get("latent") else None,
    )
    try:
        model.unet.load_state_dict(payload["model"])
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise AnobenchError(
            f"checkpoint {path} does not fit the {preset.name!r} UNet (wrong architecture): {first}"
        ) from None
    provenance = {"path": str(path), "sha256": sha256_file(path), **config}
    provenance["training"] = payload.get("training", {})
    return model, provenance


def _condition(path: Path, preset: ModelPreset, stored: dict[str, Any] | None) -> ConditionConfig | None:
    """A conditioned checkpoint's encoder, which must be the one its preset defines (`anobench train`
    takes it from the preset): an older file with another encoder is refused by name."""
    if not stored:
        return None
    expected = condition_for(preset.name, preset.channels[0] * 4)
    if stored != dataclasses.asdict(expected):
        raise AnobenchError(
            f"checkpoint {path} was made with a different condition encoder ({stored}) than this anobench "
            f"defines for {preset.name!r} ({dataclasses.asdict(expected)}); train it again"
        )
    return expected


def _as_tuples(architecture: dict[str, Any]) -> dict[str, Any]:
    return {key: tuple(value) if isinstance(value, list) else value for key, value in architecture.items()}


UNNAMED_MODALITIES = (None, "t1")  # checkpoint names of T1 (and non-MR) data sets carry no modality


def checkpoint_name(dataset: str, noise: str, preset: str, scheme: str = "full", modality: str | None = None) -> str:
    """`<dataset>[-<modality>]-<noise>[-<scheme>]-<preset>`: IXI's T2 denoiser is `ixi-t2-gaussian-paper`
    (the modality is left out where the data set's name ends with it: `brain-phantom-t2-gaussian-…`)."""
    named = modality in UNNAMED_MODALITIES or dataset.endswith(f"-{modality}")
    trained_on = dataset if named else f"{dataset}-{modality}"
    return f"{trained_on}-{noise}-{preset}" if scheme == "full" else f"{trained_on}-{noise}-{scheme}-{preset}"


def suggested_train_command(
    source: str,
    data_root: Path | None,
    noise: str,
    preset: str,
    scheme: str,
    out: Path,
    options: tuple[tuple[str, str], ...] = (),
) -> str:
    """The `anobench train` command that makes the checkpoint `out` from `source` (NAME or NAME:SPLIT)
    with the data options `options`."""
    words = ["anobench", "train", "--dataset", source]
    words += ["--data-root", str(data_root)] if data_root is not None else []
    words += [word for key, value in options for word in ("--set", f"{key}={value}")]
    words += ["--noise", noise, "--preset", preset]
    words += ["--scheme", scheme] if scheme != "full" else []
    return shlex.join([*words, "--out", str(out)])


def default_checkpoint(
    dataset: str,
    noise: str,
    preset: str,
    scheme: str = "full",
    training_source: str | None = None,
    data_root: Path | None = None,
    modality: str | None = None,
    options: tuple[tuple[str, str], ...] = (),
) -> Path:
    """The checkpoint for (dataset, noise, preset, training scheme, modality): the one shipped in the
    package, else the one trained into the user's checkpoint folder; a clear error proposing the
    command that trains it there (from `training_source`, the data set's training split, with the
    data `options` it takes) if neither exists."""
    name = checkpoint_name(dataset, noise, preset, scheme, modality)
    shipped = Path(str(resources.files("anobench") / "checkpoints" / f"{name}.pt"))
    trained = user_checkpoints() / f"{name}.pt"
    for path in (shipped, trained):
        if path.is_file():
            return path
    images = "" if modality in UNNAMED_MODALITIES else f"{modality} images, "
    where = (
        f"no checkpoint for {dataset} ({images}{noise} noise, preset {preset}, {scheme} scheme) is shipped or at "
        f"{trained}"
    )
    if training_source is None:
        raise AnobenchError(f"{where}; {dataset} has no split to train one on: pass --checkpoint FILE")
    command = suggested_train_command(training_source, data_root, noise, preset, scheme, trained, options)
    raise AnobenchError(f"{where}; train it with `{command}` and run again, or pass --checkpoint FILE")
