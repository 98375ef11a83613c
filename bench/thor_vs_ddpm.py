"""THOR's cost against DDPM's at equal NFE (target: THOR ≤ 1.05 × DDPM), measured in one run.

DDPM and THOR (one variant per perceptual backend) score the same brain-phantom cases with the
same checkpoint, T0, stride and batch size; the batches alternate between the methods so that
machine noise hits all alike. Prints the seconds of each and each THOR variant's ratio to DDPM,
raw and with the (identical) denoising calls charged equally to both.

    .venv/bin/python bench/thor_vs_ddpm.py [--cases N] [--batch-size B] [--repeats R]
        [--stride K] [--perceptual ssim,unet]
"""

from __future__ import annotations

import argparse
import time

import torch

from anobench import registry
from anobench.api import Batch, DatasetContext, MethodContext, load_cases
from anobench.diffusion.presets import get_preset


def measure(
    cases_count: int = 32,
    batch_size: int = 8,
    repeats: int = 2,
    stride: int | None = None,
    backends: tuple[str, ...] = ("ssim", "unet"),
) -> dict[str, object]:
    """Seconds and network seconds of DDPM and each THOR backend on the same batches, alternating."""
    preset = get_preset("cpu-small")
    device = torch.device("cpu")
    cases = load_cases(registry.datasets.get("brain-phantom").open({}, DatasetContext(preset.image_size)), "test")
    cases = cases[:cases_count]
    context = MethodContext("brain-phantom", preset.name, preset.image_size, device)
    common = {"stride": str(stride)} if stride else {}
    methods = {"ddpm": registry.methods.get("ddpm").create(common, context)}
    for backend in backends:
        methods[f"thor ({backend})"] = registry.methods.get("thor").create({**common, "perceptual": backend}, context)
    seconds = dict.fromkeys(methods, 0.0)
    network = dict.fromkeys(methods, 0.0)
    with torch.inference_mode():
        for method in methods.values():  # warm-up
            method.predict(Batch(torch.from_numpy(cases[0].image)[None, None], [cases[0].case_id], 0))
        for _ in range(repeats):
            for first in range(0, len(cases), batch_size):
                chunk = cases[first : first + batch_size]
                batch = Batch(
                    torch.stack([torch.from_numpy(c.image) for c in chunk])[:, None], [c.case_id for c in chunk], 0
                )
                for name, method in methods.items():
                    start = time.perf_counter()
                    prediction = method.predict(batch)
                    seconds[name] += time.perf_counter() - start
                    network[name] += prediction.network_seconds
    # The denoising calls are the same in number and shape for every method, so differences in
    # their measured time are machine drift; the equalised ratio charges THOR only for its own work.
    ddpm_own = seconds["ddpm"] - network["ddpm"]
    ratios = {
        name: (seconds[name] / seconds["ddpm"], 1 + (seconds[name] - network[name] - ddpm_own) / seconds["ddpm"])
        for name in methods
        if name != "ddpm"
    }
    return {"cases": len(cases), "nfe": prediction.nfe, "seconds": seconds, "network": network, "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--stride", type=int, default=None, help="default: the preset's")
    parser.add_argument("--perceptual", default="ssim,unet", help="THOR backends, comma-separated")
    args = parser.parse_args()
    m = measure(args.cases, args.batch_size, args.repeats, args.stride, tuple(args.perceptual.split(",")))
    print(f"{m['cases']} cases × {args.repeats}, batch {args.batch_size}, NFE/img {m['nfe']}")
    for name, total in m["seconds"].items():
        print(f"{name}: {total:.2f} s ({m['network'][name] / total:.1%} inside the denoising calls)")
    for name, (ratio, equalised) in m["ratios"].items():
        print(f"{name} / ddpm wall-time ratio at equal NFE: {ratio:.3f} (network time equalised: {equalised:.3f})")


if __name__ == "__main__":
    main()
