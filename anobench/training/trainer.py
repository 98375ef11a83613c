"""`anobench train`: fit a denoiser on healthy training images (one or more dataset splits).

Five schemes (`full`, `patched`, `dae`, `conditioned`, `latent`), each with its schedule and loss in
`anobench.training.objectives`. `latent` trains in two stages: `autoencoder_steps` of the VQ-VAE,
then `steps` of the latent UNet with the VQ-VAE frozen at its averaged weights.

Everything random
(initial weights, batches, augmentation, timesteps, noise) comes from generators seeded by
`seed`, and their states are saved with the model every `save_every` steps, so an interrupted run
resumes where it stopped and ends with the same weights as an uninterrupted one (on the CPU).
The exported weights are an exponential moving average of the trained ones (with warm-up).
"""

from __future__ import annotations

import json
import math
import platform
import shlex
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

import torch
import torch.nn.functional as F
from rich.console import Console
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel

import anobench
from anobench import distributed
from anobench.config import to_plain
from anobench.devices import select_device
from anobench.diffusion.checkpoint import FORMAT, atomic_torch_save, model_config
from anobench.diffusion.condition import condition_for
from anobench.diffusion.latent import LatentDiffusionNetwork, latent_for
from anobench.diffusion.model import DiffusionModel
from anobench.diffusion.noise import NoiseKind, noise_kind
from anobench.diffusion.patches import default_patch_size, patch_layout
from anobench.diffusion.presets import get_preset
from anobench.errors import AnobenchError
from anobench.hashing import sha256_file
from anobench.progress import StageProgress
from anobench.running.sources import DataRoots, data_root_words
from anobench.training.data import load_training_images, parse_sources, source_word
from anobench.training.objectives import (
    INPUT_RANGE,
    autoencoder_loss,
    conditioned_loss,
    denoising_loss,
    full_image_loss,
    patched_loss,
    schedule_for,
)


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = "brain-phantom"  # training sources, NAME[:SPLIT] joined by "+" (anobench.training.data)
    noise: str = "gaussian"
    preset: str = "cpu-small"
    steps: int = 3400
    batch_size: int = 16
    lr: float = 1e-4
    ema_decay: float = 0.999
    augment: bool = True
    seed: int = 0
    save_every: int = 200
    scheme: Literal["full", "patched", "dae", "conditioned", "latent"] = "full"
    patch_size: int | None = None  # patched scheme; None: 48 px at 128 px, scaled to the preset
    autoencoder_steps: int | None = None  # latent scheme: VQ-VAE steps before `steps`; None: steps / 2

    def stage_steps(self) -> int:
        """Steps of the latent scheme's first stage (the VQ-VAE); 0 for the other schemes. The
        released LDM baseline trains the VQ-VAE half as many epochs as the diffusion."""
        if self.scheme != "latent":
            return 0
        return self.steps // 2 if self.autoencoder_steps is None else self.autoencoder_steps


SCHEMES = ("full", "patched", "dae", "conditioned", "latent")
DAE_NOISE = "coarse"  # the noise name a dae checkpoint records (anobench.diffusion.coarse_noise)
OPTIMISER_OPTIONS: dict[str, dict[str, Any]] = {"dae": {"amsgrad": True, "weight_decay": 1e-5}}


def train_command(
    config: TrainConfig,
    out: Path,
    dataset_options: Mapping[str, str],
    data_root: DataRoots = None,
    processes: int = 1,
) -> str:
    launcher = ["torchrun", "--nproc-per-node", str(processes), "-m", "anobench"] if processes > 1 else ["anobench"]
    words = [*launcher, "train"]
    defaults = TrainConfig()
    for key, value in asdict(config).items():
        if key == "augment":
            if not value:
                words.append("--no-augment")
        elif key == "dataset":
            words += [word for source in parse_sources(value) for word in ("--dataset", source_word(source))]
        elif key in ("noise", "preset") or (value is not None and value != getattr(defaults, key)):
            words += [f"--{key.replace('_', '-')}", str(value)]
    for key, value in sorted(dataset_options.items()):
        words += ["--set", f"{key}={value}"]
    return shlex.join(words + data_root_words(data_root) + ["--out", str(out)])


def _same_settings(saved: Mapping[str, Any], config: TrainConfig) -> bool:
    """Whether a saved run's settings are `config`'s. A setting added to anobench after the state was
    written counts at its default, so upgrading anobench does not strand an interrupted run."""
    return {**to_plain(TrainConfig()), **saved} == to_plain(config)  # a setting this anobench lacks differs too


def _warmup_ema(decay: float):
    """EMA whose decay ramps up as min(decay, (1+n)/(10+n)), so early weights are forgotten.

    A fixed decay of 0.999 keeps e^{-1} of the random initial weights after 1000 steps, which in
    a few-thousand-step run visibly spoils reconstructions.
    """

    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], num_averaged: torch.Tensor) -> None:
        step_decay = min(decay, (1 + float(num_averaged)) / (10 + float(num_averaged)))
        for average, value in zip(averaged, current):
            average.lerp_(value, 1 - step_decay)

    return update


def _resume_path(out: Path) -> Path:
    return out.with_name(out.stem + ".resume.pt")


def _augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """THOR's brain augmentation: affine (±10°, ±10% shift, ×0.9–1.1) and a horizontal flip."""
    count = images.shape[0]
    uniform = torch.rand(count, 5, generator=generator)
    angle = (uniform[:, 0] * 2 - 1) * math.radians(10)
    shift = (uniform[:, 1:3] * 2 - 1) * 0.2  # grid units span 2, so 0.2 is 10% of the side
    scale = 0.9 + 0.2 * uniform[:, 3]
    flip = torch.where(uniform[:, 4] < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _noise_of(config: TrainConfig) -> NoiseKind | None:
    """The diffusion noise a scheme trains with (None for the DAE, which draws its coarse noise)."""
    if config.scheme not in SCHEMES:
        raise AnobenchError(f"scheme must be one of {', '.join(SCHEMES)}, got {config.scheme!r}")
    if config.scheme != "patched" and config.patch_size is not None:
        raise AnobenchError("--patch-size applies to --scheme patched only")
    if config.scheme != "latent" and config.autoencoder_steps is not None:
        raise AnobenchError("--autoencoder-steps applies to --scheme latent only")
    if config.scheme == "latent" and config.noise != "gaussian":
        raise AnobenchError("--scheme latent noises the VQ-VAE's latents with Gaussian noise: pass --noise gaussian")
    if config.scheme == "dae":
        if config.noise != DAE_NOISE:
            raise AnobenchError(f"--scheme dae trains on coarse noise: pass --noise {DAE_NOISE}")
        return None
    return noise_kind(config.noise)


def _freeze_autoencoder(
    network: LatentDiffusionNetwork, ema: AveragedModel, decay: float, starting: bool
) -> AveragedModel:
    """The LDM's second stage: the VQ-VAE frozen in eval mode (its codebook stops moving). When the
    stage `starting`, the VQ-VAE takes its averaged weights, the ones the checkpoint will hold, so the
    UNet learns the latents it will be given; the average restarts with its warm-up, for the UNet."""
    network.autoencoder.eval().requires_grad_(False)
    if not starting:
        return ema
    averaged = ema.module
    assert isinstance(averaged, LatentDiffusionNetwork)
    network.autoencoder.load_state_dict(averaged.autoencoder.state_dict())
    return AveragedModel(network, multi_avg_fn=_warmup_ema(decay))


def _global_mean(value: torch.Tensor) -> float:
    """The loss over the whole batch: the mean of the ranks' equal parts (the value itself alone)."""
    if distributed.active():
        value = value.clone()
        torch.distributed.all_reduce(value)
        value /= torch.distributed.get_world_size()
    return float(value)


def train(
    config: TrainConfig,
    out: Path,
    dataset_options: Mapping[str, str] | None = None,
    device_name: str | None = None,
    console: Console | None = None,
    data_root: DataRoots = None,
) -> dict[str, Any]:
    """Train (or resume) and write the checkpoint `out`; returns its manifest entry.

    Under torchrun every rank draws the whole global batch (same generator), runs the network on its
    own equal part, and DistributedDataParallel averages the gradients: the update of one process on
    the whole batch. Rank 0 alone writes the resumable state, the checkpoint and the manifest.
    """
    launch = distributed.launched()
    device = select_device(distributed.device_for(launch, device_name) if launch else device_name)
    world_size, rank = (launch.world_size, launch.rank) if launch else (1, 0)
    if config.batch_size % world_size:
        raise AnobenchError(f"--batch-size {config.batch_size} is not divisible by the {world_size} processes")
    per_rank = config.batch_size // world_size
    part = slice(rank * per_rank, (rank + 1) * per_rank)
    console = Console(quiet=True) if rank else console  # one progress bar per job
    dataset_options = dict(dataset_options or {})
    preset = get_preset(config.preset)
    noise = _noise_of(config)
    patch_size = (config.patch_size or default_patch_size(preset.image_size)) if config.scheme == "patched" else None
    images, manifest_hash, modality = load_training_images(
        config.dataset, preset.image_size, dataset_options, data_root
    )
    if console is not None:
        console.print(f"training on {len(images)} images of {config.dataset.replace('+', ' + ')} → {out}")

    if launch:
        distributed.start(device)
    torch.manual_seed(config.seed)
    schedule = schedule_for(config.scheme)
    condition = condition_for(preset.name, preset.channels[0] * 4) if config.scheme == "conditioned" else None
    latent = latent_for(preset.name) if config.scheme == "latent" else None
    model = DiffusionModel(preset, schedule, INPUT_RANGE, config.noise, device, patch_size, condition, latent)
    unet = model.unet.train()
    network = (
        DistributedDataParallel(
            unet,
            device_ids=[device] if device.type == "cuda" else None,
            find_unused_parameters=latent is not None,  # each LDM stage trains one half of the network
        )
        if launch
        else unet
    )
    ema = AveragedModel(unet, multi_avg_fn=_warmup_ema(config.ema_decay))
    latent_network = unet if isinstance(unet, LatentDiffusionNetwork) else None
    optimizer = torch.optim.Adam(unet.parameters(), lr=config.lr, **OPTIMISER_OPTIONS.get(config.scheme, {}))
    generator = torch.Generator().manual_seed(config.seed)
    step, losses = 0, []

    resume = _resume_path(out)
    if resume.is_file():
        state = torch.load(resume, map_location=device, weights_only=True)
        if not _same_settings(state["train_config"], config):
            raise AnobenchError(
                f"{resume} holds an interrupted run with other settings ({state['train_config']}); "
                f"delete it to start afresh"
            )
        unet.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        step, losses = state["step"], list(state["losses"])

    def save_state() -> None:
        atomic_torch_save(
            {
                "train_config": to_plain(config),
                "model": unet.state_dict(),
                "ema": ema.state_dict(),
                "optimizer": optimizer.state_dict(),
                "generator": generator.get_state(),
                "step": step,
                "losses": losses,
            },
            resume,
        )

    alpha_bar = model.schedule.alphas_cumprod.float().to(device)
    height, width = images.shape[-2:]
    cells = None if patch_size is None else patch_layout(height, width, patch_size).window_masks().to(device)
    first_stage, total_steps = config.stage_steps(), config.stage_steps() + config.steps
    with StageProgress(console or Console(), "train", total_steps, unit="step", done=step) as progress:
        session_first_step = step
        while step < total_steps:
            if latent_network is not None and step == max(first_stage, session_first_step):  # once per session
                ema = _freeze_autoencoder(latent_network, ema, config.ema_decay, starting=step == first_stage)
            index = torch.randint(len(images), (config.batch_size,), generator=generator)
            batch = images[index]
            if config.augment:
                batch = _augment(batch, generator)
            x0 = model.to_model_range(batch).to(device)
            if noise is None:
                loss = denoising_loss(network, x0, generator, part)
            elif latent_network is not None and step < first_stage:
                loss = autoencoder_loss(network, x0, part)
            elif latent_network is not None:
                with torch.no_grad():
                    latents = latent_network.encode_quantised(x0)
                loss = full_image_loss(network, alpha_bar, latents, noise, generator, part)
            elif condition is not None:
                loss = conditioned_loss(network, alpha_bar, x0, noise, generator, part)
            elif cells is None:
                loss = full_image_loss(network, alpha_bar, x0, noise, generator, part)
            else:
                loss = patched_loss(network, alpha_bar, x0, noise, generator, cells, part)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            ema.update_parameters(unet)
            step += 1
            losses.append(_global_mean(loss.detach()))
            progress.update(step, f"loss {sum(losses[-50:]) / len(losses[-50:]):.4f}")
            if step % config.save_every == 0 and step < total_steps and rank == 0:
                save_state()

    final_loss = sum(losses[-100:]) / max(len(losses[-100:]), 1)
    entry = {}
    if rank == 0:
        training = {
            **to_plain(config),
            "dataset_options": dataset_options,
            "final_loss": final_loss,
            "data_manifest": manifest_hash,
            **({"modality": modality} if modality is not None else {}),  # shipped checkpoints keep their bytes
            "anobench": anobench.__version__,
            "torch": str(torch.__version__),
            "device": str(device),
            "threads": torch.get_num_threads(),
            "processes": world_size,
        }
        model_state = {
            "format": FORMAT,
            "model": ema.module.state_dict(),
            "config": model_config(preset, schedule, config.noise, INPUT_RANGE, patch_size, condition, latent),
            "training": training,
        }
        atomic_torch_save(model_state, out)
        resume.unlink(missing_ok=True)
        entry = _manifest_entry(config, out, dataset_options, data_root, final_loss, manifest_hash, device, world_size)
    if launch:
        distributed.barrier()
        distributed.stop()
    return entry


def _manifest_entry(
    config: TrainConfig,
    out: Path,
    dataset_options: Mapping[str, str],
    data_root: DataRoots,
    final_loss: float,
    manifest_hash: str,
    device: torch.device,
    world_size: int,
) -> dict[str, Any]:
    """Record the checkpoint in manifest.json beside it (sha256, the command that made it)."""
    entry = {
        "file": out.name,
        "sha256": sha256_file(out),
        "command": train_command(config, out, dataset_options, data_root, world_size),
        "seed": config.seed,
        "steps": config.steps,
        "final_loss": round(final_loss, 6),
        "data_manifest": manifest_hash,
        "torch": str(torch.__version__),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, {device}"
        + (f", {world_size} processes" if world_size > 1 else ""),
    }
    manifest_path = out.parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    manifest[out.stem] = entry
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return entry
