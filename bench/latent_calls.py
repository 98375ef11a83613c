"""What a network call costs in an LDM's latent space against one on the image, at cpu-small.

Builds the cpu-small image-space UNet and the LDM's (VQ-VAE + UNet on 16 × 8 × 8 latents), times
one call of each on a batch in one run, and the LDM's whole map (encode, t steps back, decode) per
image. Weights are random: a call's cost does not depend on them.

    .venv/bin/python bench/latent_calls.py [--batch 8] [--repeats 20] [--t 300]
"""

from __future__ import annotations

import argparse
import time

import torch

from anobench.api import Batch
from anobench.diffusion.latent import latent_for
from anobench.diffusion.model import DiffusionModel
from anobench.diffusion.noise import noise_kind
from anobench.diffusion.presets import get_preset
from anobench.methods.ldm.method import LDM, LDMConfig
from anobench.training.objectives import INPUT_RANGE, schedule_for


def seconds_per_call(model: DiffusionModel, inputs: torch.Tensor, repeats: int) -> float:
    model.predict(inputs, 10)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        model.predict(inputs, 10)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--t", type=int, default=LDMConfig.t)
    args = parser.parse_args()
    torch.manual_seed(0)
    preset, cpu = get_preset("cpu-small"), torch.device("cpu")
    image_model = DiffusionModel(preset, schedule_for("full"), INPUT_RANGE, "gaussian", cpu)
    latent = latent_for(preset.name)
    latent_model = DiffusionModel(preset, schedule_for("latent"), INPUT_RANGE, "gaussian", cpu, latent=latent)
    side = preset.image_size
    with torch.inference_mode():
        image_call = seconds_per_call(image_model, torch.rand(args.batch, 1, side, side), args.repeats)
        latents = torch.rand(args.batch, latent.embedding_dim, side // 8, side // 8)
        latent_call = seconds_per_call(latent_model, latents, args.repeats)
        ldm = LDM.__new__(LDM)  # the method on the untrained model, as `create` builds it from a checkpoint
        ldm.model, ldm.config, ldm.noise, ldm.checkpoint = latent_model, LDMConfig(t=args.t), noise_kind("gaussian"), {}
        images = torch.rand(args.batch, 1, side, side)
        ids = [f"case-{index}" for index in range(args.batch)]
        start = time.perf_counter()
        prediction = ldm.predict(Batch(images, ids, 0))
        per_image = (time.perf_counter() - start) / args.batch
    print(f"cpu-small, batch {args.batch}, {torch.get_num_threads()} threads")
    shape = "×".join(str(size) for size in latents.shape[1:])
    print(
        f"one call: image UNet on {side}×{side} {image_call * 1000:.1f} ms, latent UNet on {shape} "
        f"{latent_call * 1000:.1f} ms: ratio {image_call / latent_call:.1f}"
    )
    print(
        f"LDM map (t = {args.t}): {prediction.nfe} calls, {per_image:.3f} s per image, the cost of "
        f"{per_image * args.batch / image_call:.1f} image-space calls"
    )


if __name__ == "__main__":
    main()
