"""Maps under reduced precision and torch.compile against fp32 eager maps, with the tolerances.

DDPM (shipped Gaussian cpu-small checkpoint, T0 = 30, stride 10) on two images, each option
against the fp32 eager run; tolerances: autocast max |Δ| ≤ 5e-2 (maps in [0, 1]), compile ≤ 1e-5.
On a CPU compiling takes minutes; fp16 autocast is for GPUs.

    .venv/bin/python bench/precision_check.py [--device cuda] [--options bf16,fp16,compile]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from anobench import registry
from anobench.api import Batch, MethodContext
from anobench.devices import select_device

TOLERANCES = {"bf16": 5e-2, "fp16": 5e-2, "compile": 1e-5}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--options", default="bf16,compile")
    args = parser.parse_args()
    device = select_device(args.device)
    context = MethodContext("brain-phantom", "cpu-small", 64, device)
    create = registry.methods.get("ddpm").create
    images = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    batch = Batch(images, ["a", "b"], 0)
    with torch.inference_mode():
        reference = create({"t0": "30", "stride": "10"}, context).predict(batch).maps
        for option in args.options.split(","):
            changed = replace(context, compile=True) if option == "compile" else replace(context, precision=option)
            start = time.perf_counter()
            maps = create({"t0": "30", "stride": "10"}, changed).predict(batch).maps
            difference = (maps - reference).abs()
            verdict = "within" if float(difference.max()) <= TOLERANCES[option] else "OUTSIDE"
            print(f"{option} on {device}: max |Δ| {float(difference.max()):.2e}, mean {float(difference.mean()):.2e} "
                  f"({verdict} {TOLERANCES[option]:g}); first call {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
