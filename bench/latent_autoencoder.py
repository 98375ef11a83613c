"""How well an LDM checkpoint's VQ-VAE reconstructs healthy brain-phantom slices, and how large its
latents are against the [−1, 1] range the released chain clips x̂0 to.

For each latent checkpoint given (default: the shipped one), on the first N healthy validation
slices: the VQ-VAE alone (encode, quantise, decode), the mean L1 error inside the brain (pixels
above 0.05), beside the same error of the slices' mean image (a reconstruction that ignores its
input); and the encoder's latents: their standard deviation, the share beyond ±1 and the largest.

    .venv/bin/python bench/latent_autoencoder.py [CHECKPOINT ...] [--cases 16]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from anobench import registry
from anobench.api import DatasetContext, load_cases
from anobench.diffusion.checkpoint import default_checkpoint, load_model

BRAIN = 0.05  # intensity above which a phantom pixel counts as brain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="*", type=Path)
    parser.add_argument("--cases", type=int, default=16)
    args = parser.parse_args()
    checkpoints = args.checkpoints or [default_checkpoint("brain-phantom", "gaussian", "cpu-small", "latent")]
    dataset = registry.datasets.get("brain-phantom").open({}, DatasetContext(image_size=64))
    images = torch.stack([torch.from_numpy(case.image) for case in load_cases(dataset, "val", args.cases)])[:, None]
    brain = images > BRAIN
    ignoring = (images - images.mean(0, keepdim=True)).abs()[brain].mean().item()
    print(f"{len(images)} healthy validation slices; the mean image's L1 error in the brain: {ignoring:.4f}")
    for path in checkpoints:
        model, provenance = load_model(path, torch.device("cpu"))
        with torch.inference_mode():
            latents = model.to_latents(model.to_model_range(images))
            decoded = model.to_image(model.from_latents(latents)).clamp(0.0, 1.0)
        error = (images - decoded).abs()[brain].mean().item()
        beyond = (latents.abs() > 1).float().mean().item()
        print(
            f"{path} ({provenance['sha256'][:12]}…): VQ-VAE L1 in the brain {error:.4f}; latents sd "
            f"{latents.std().item():.3f}, {100 * beyond:.1f} % beyond ±1, largest {latents.abs().max().item():.2f}"
        )


if __name__ == "__main__":
    main()
