"""Maps under reduced precision and torch.compile against fp32 eager maps, with the tolerances.

DDPM (T0 = 30) and THOR (T0 = 100, one harmonization step at 50, so its perceptual and map
operations run too), shipped Gaussian cpu-small checkpoint, stride 10, on two images, each option
against the fp32 eager run; tolerances: autocast max |Δ| ≤ 5e-2 (maps in [0, 1]), compile ≤ 1e-5.
On a CPU compiling takes minutes; fp16 autocast is for GPUs.

    .venv/bin/python bench/precision_check.py [--device cuda] [--methods ddpm,thor] [--options bf16,fp16,compile]
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
SETTINGS = {"ddpm": {"t0": "30", "stride": "10"}, "thor": {"t0": "100", "stride": "10", "harmonization": "50"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--methods", default="ddpm,thor")
    parser.add_argument("--options", default="bf16,compile")
    args = parser.parse_args()
    device = select_device(args.device)
    context = MethodContext("brain-phantom", "cpu-small", 64, device)
    images = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    batch = Batch(images, ["a", "b"], 0)
    for method in args.methods.split(","):
        create, settings = registry.methods.get(method).create, SETTINGS[method]
        with torch.inference_mode():
            reference = create(settings, context).predict(batch).maps
            for option in args.options.split(","):
                changed = replace(context, compile=True) if option == "compile" else replace(context, precision=option)
                start = time.perf_counter()
                maps = create(settings, changed).predict(batch).maps
                difference = (maps - reference).abs()
                verdict = "within" if float(difference.max()) <= TOLERANCES[option] else "OUTSIDE"
                print(
                    f"{method}, {option} on {device}: max |Δ| {float(difference.max()):.2e}, mean "
                    f"{float(difference.mean()):.2e} ({verdict} {TOLERANCES[option]:g}); "
                    f"first call {time.perf_counter() - start:.1f} s"
                )


if __name__ == "__main__":
    main()
