"""Share of a THOR (simplex) run's time spent generating simplex noise (target: ≤ 10 %).

Scores brain-phantom cases with THOR on the shipped simplex checkpoint (preset defaults, batch 8)
and times every simplex field drawn (the jump to T0 and every reverse step), in one run.

    .venv/bin/python bench/simplex_share.py [--cases N] [--batch-size B] [--perceptual unet]
"""

from __future__ import annotations

import argparse
import time

import torch

from anobench import registry
from anobench.api import Batch, DatasetContext, MethodContext
from anobench.diffusion.presets import get_preset
from anobench.diffusion.simplex import SimplexNoise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--perceptual", default="auto")
    args = parser.parse_args()
    preset = get_preset("cpu-small")
    cases = registry.datasets.get("brain-phantom").open({}, DatasetContext(preset.image_size)).cases("test")
    cases = cases[: args.cases]
    context = MethodContext("brain-phantom", preset.name, preset.image_size, torch.device("cpu"))
    thor = registry.methods.get("thor").create({"noise": "simplex", "perceptual": args.perceptual}, context)

    noise_seconds = [0.0]
    draw = SimplexNoise.draw

    def timed_draw(self, generator, shape, timestep):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        result = draw(self, generator, shape, timestep)
        noise_seconds[0] += time.perf_counter() - start
        return result

    def batches():  # type: ignore[no-untyped-def]
        for first in range(0, len(cases), args.batch_size):
            chunk = cases[first : first + args.batch_size]
            images = torch.stack([torch.from_numpy(c.image) for c in chunk])[:, None]
            yield Batch(images, [c.case_id for c in chunk], 0)

    with torch.inference_mode():
        thor.predict(next(batches()))  # warm-up: numba compiles (or loads) opensimplex's kernels
        SimplexNoise.draw = timed_draw  # type: ignore[method-assign]
        start, network = time.perf_counter(), 0.0
        for batch in batches():
            prediction = thor.predict(batch)
            network += prediction.network_seconds
        total = time.perf_counter() - start
        SimplexNoise.draw = draw  # type: ignore[method-assign]
    settings = thor.settings()
    print(f"{len(cases)} cases, batch {args.batch_size}, T0 {settings['t0']}, stride {settings['stride']}, "
          f"NFE/img {prediction.nfe}, perceptual {settings['perceptual']}")
    print(f"total {total:.2f} s, network {network:.2f} s, simplex noise {noise_seconds[0]:.2f} s")
    print(f"simplex-noise share of inference time: {noise_seconds[0] / total:.1%}")


if __name__ == "__main__":
    main()
