"""`anobench train` and `import-checkpoint`: denoiser checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from anobench.cli.app import app, console
from anobench.errors import AnobenchError


@app.command()
def train(
    dataset: List[str] = typer.Option(
        ["brain-phantom"],
        help="Training source NAME or NAME:SPLIT (default split: train); repeat to combine, "
        "e.g. --dataset ixi --dataset atlas:train-healthy (the THOR brain training set).",
    ),
    noise: str = typer.Option(
        "gaussian",
        help="Noise of the diffusion process: gaussian, simplex, simplex-2d, pyramid (ANDi); coarse with --scheme dae.",
    ),
    preset: str = typer.Option("cpu-small", help="Model preset: cpu-small or paper."),
    steps: int = typer.Option(3400, help="Optimiser steps (of the diffusion, after the VQ-VAE with --scheme latent)."),
    batch_size: int = typer.Option(16, help="Images per step."),
    lr: float = typer.Option(1e-4, help="Adam learning rate."),
    ema_decay: float = typer.Option(0.999, help="Decay of the exported weight average."),
    augment: bool = typer.Option(True, "--augment/--no-augment", help="THOR's affine + flip augmentation."),
    seed: int = typer.Option(0, help="Seed of every random choice."),
    save_every: int = typer.Option(200, help="Steps between resumable states."),
    scheme: str = typer.Option(
        "full",
        help="full: whole image noised (THOR, DDPM, AnoDDPM, AutoDDPM); patched: one noised cell per image (pDDPM); "
        "dae: coarse noise, clean image out (the denoising autoencoder, with --noise coarse); "
        "conditioned: whole image noised, x0 predicted given the clean image's encoding (cDDPM); "
        "latent: a VQ-VAE, then a diffusion model of its latents (LDM).",
    ),
    patch_size: Optional[int] = typer.Option(
        None, help="Cell size of --scheme patched (default 48 px at 128 px, scaled)."
    ),
    autoencoder_steps: Optional[int] = typer.Option(
        None, help="VQ-VAE steps of --scheme latent, before --steps of the diffusion (default: half of --steps)."
    ),
    out: Path = typer.Option(..., help="Checkpoint file to write (a manifest.json is kept beside it)."),
    device: Optional[str] = typer.Option(None, help="cpu or cuda (default: cuda when available)."),
    set_: Optional[List[str]] = typer.Option(
        None, "--set", metavar="KEY=VALUE", help="Dataset option key=value (NAME.key=value with several sources)."
    ),
    data_root: Optional[List[str]] = typer.Option(
        None,
        metavar="DIR | NAME=DIR",
        help="Folder of a real data set (NAME=DIR with several sources; default: $ANOBENCH_DATA/<name>).",
    ),
) -> None:
    """Train a denoiser on healthy images; resumes an interrupted run of the same command."""
    from anobench.config import parse_assignments
    from anobench.running.sources import parse_data_roots
    from anobench.training.data import join_sources
    from anobench.training.trainer import TrainConfig
    from anobench.training.trainer import train as run_training

    config = TrainConfig(
        dataset=join_sources(dataset),
        noise=noise,
        preset=preset,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        ema_decay=ema_decay,
        augment=augment,
        seed=seed,
        save_every=save_every,
        scheme=scheme,  # type: ignore[arg-type]
        patch_size=patch_size,
        autoencoder_steps=autoencoder_steps,
    )
    entry = run_training(config, out, parse_assignments(set_), device, console, parse_data_roots(data_root))
    if entry:  # under torchrun, rank 0 writes and reports
        console.print(f"wrote {out} (sha256 {entry['sha256'][:12]}…, final loss {entry['final_loss']:.4f})")


@app.command("import-checkpoint")
def import_checkpoint(
    source: Path = typer.Argument(..., help="Checkpoint file published with another code base."),
    format: str = typer.Option("thor-release", help="Layout of SOURCE: thor-release (THOR's best_model.pt)."),
    out: Path = typer.Option(..., help="anobench checkpoint to write."),
    preset: str = typer.Option("paper", help="Architecture the weights were trained with."),
    noise: str = typer.Option("gaussian", help="Noise the model was trained with (gaussian or simplex)."),
    input_range: str = typer.Option(
        "-1,1", help="Intensity range the network is fed: -1,1 (as trained) or 0,1 (as the released evaluation)."
    ),
) -> None:
    """Convert a released checkpoint (MONAI Generative key names) into an anobench checkpoint."""
    from anobench.diffusion.noise import noise_kind
    from anobench.diffusion.release_import import FORMATS, import_thor_release

    if format not in FORMATS:
        raise AnobenchError(f"unknown checkpoint format {format!r}; available: {', '.join(FORMATS)}")
    noise_kind(noise)
    try:
        low, high = (float(value) for value in input_range.split(","))
    except ValueError:
        raise AnobenchError(f"--input-range {input_range!r} is not two numbers like -1,1") from None
    import_thor_release(source, out, preset, noise, (low, high))
    console.print(f"wrote {out} ({preset}, {noise} noise, input range [{low:g}, {high:g}])")
