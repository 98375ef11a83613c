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
from anobench.api import Batch, DatasetContext, MethodContext, load_cases
from anobench.diffusion.presets import get_preset
from anobench.diffusion.simplex import SimplexNoise


def measure(cases_count: int = 32, batch_size: int = 8, perceptual: str = "auto") -> dict[str, object]:
    """Seconds of a THOR (simplex) pass over the cases, inside the network, and drawing simplex noise."""
    preset = get_preset("cpu-small")
    cases = load_cases(registry.datasets.get("brain-phantom").open({}, DatasetContext(preset.image_size)), "test")
    cases = cases[:cases_count]
    context = MethodContext("brain-phantom", preset.name, preset.image_size, torch.device("cpu"))
    thor = registry.methods.get("thor").create({"noise": "simplex", "perceptual": perceptual}, context)

    noise_seconds = [0.0]
    draw = SimplexNoise.draw

    def timed_draw(self, generator, shape, timestep):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        result = draw(self, generator, shape, timestep)
        noise_seconds[0] += time.perf_counter() - start
        return result

    def batches():  # type: ignore[no-untyped-def]
        for first in range(0, len(cases), batch_size):
            chunk = cases[first : first + batch_size]
            images = torch.stack([torch.from_numpy(c.image) for c in chunk])[:, None]
            yield Batch(images, [c.case_id for c in chunk], 0)

    with torch.inference_mode():
        thor.predict(next(batches()))  # warm-up: numba compiles (or loads) opensimplex's kernels
        SimplexNoise.draw = timed_draw  # type: ignore[method-assign]
        try:
            start, network = time.perf_counter(), 0.0
            for batch in batches():
                prediction = thor.predict(batch)
                network += prediction.network_seconds
            total = time.perf_counter() - start
        finally:
            SimplexNoise.draw = draw  # type: ignore[method-assign]
    return {
        "cases": len(cases),
        "settings": thor.settings(),
        "nfe": prediction.nfe,
        "total": total,
        "network": network,
        "noise": noise_seconds[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--perceptual", default="auto")
    args = parser.parse_args()
    m = measure(args.cases, args.batch_size, args.perceptual)
    settings = m["settings"]
    print(
        f"{m['cases']} cases, batch {args.batch_size}, T0 {settings['t0']}, stride {settings['stride']}, "
        f"NFE/img {m['nfe']}, perceptual {settings['perceptual']}"
    )
    print(f"total {m['total']:.2f} s, network {m['network']:.2f} s, simplex noise {m['noise']:.2f} s")
    print(f"simplex-noise share of inference time: {m['noise'] / m['total']:.1%}")


if __name__ == "__main__":
    main()
