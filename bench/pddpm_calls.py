"""pDDPM network calls and time per image: all cells of a batch in ⌈cells × batch / max_batch⌉ calls.

Scores brain-phantom test cases with pDDPM on the shipped patched checkpoint, in one run, for each
batch size and `max_batch` (images per network call), and prints the calls counted by the model
against the bound and the seconds per image. `max_batch` = batch size is the original code's loop
(one call per cell, the whole batch of slices at a time); ratios are against it.

    .venv/bin/python bench/pddpm_calls.py [--cases N] [--batch-sizes 1,8,32] [--max-batches 16,64,288]
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from tabulate import tabulate

from anobench import registry
from anobench.api import Batch, DatasetContext, MethodContext, load_cases
from anobench.diffusion.presets import get_preset


def integers(text: str) -> list[int]:
    return [int(word) for word in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=64)
    parser.add_argument("--batch-sizes", type=integers, default=[1, 8, 32])
    parser.add_argument("--max-batches", type=integers, default=[16, 64, 288])
    args = parser.parse_args()
    preset = get_preset("cpu-small")
    cases = load_cases(registry.datasets.get("brain-phantom").open({}, DatasetContext(preset.image_size)), "test")
    cases = cases[: args.cases]
    context = MethodContext("brain-phantom", preset.name, preset.image_size, torch.device("cpu"))

    rows = []
    for batch_size in args.batch_sizes:
        baseline = None
        for max_batch in [batch_size, *[m for m in args.max_batches if m != batch_size]]:
            pddpm = registry.methods.get("pddpm").create({"max_batch": str(max_batch)}, context)
            batches = [cases[first : first + batch_size] for first in range(0, len(cases), batch_size)]
            bound = sum(math.ceil(len(chunk) * pddpm.layout.count / max_batch) for chunk in batches)
            with torch.inference_mode():
                pddpm.predict(Batch(torch.from_numpy(cases[0].image)[None, None], ["warm-up"], 0))
                with pddpm.model.metered() as usage:
                    start = time.perf_counter()
                    for chunk in batches:
                        images = torch.stack([torch.from_numpy(c.image) for c in chunk])[:, None]
                        pddpm.predict(Batch(images, [c.case_id for c in chunk], 0))
                    seconds = (time.perf_counter() - start) / len(cases)
            baseline = baseline or seconds
            label = f"{max_batch} (per-cell loop)" if max_batch == batch_size else str(max_batch)
            rows.append([batch_size, label, usage.calls, bound, f"{seconds * 1000:.1f}", f"{baseline / seconds:.2f}"])
    print(
        f"{len(cases)} cases, {pddpm.layout.count} cells per image (patch {pddpm.model.patch_size}), "
        f"{torch.get_num_threads()} threads"
    )
    headers = ["batch", "max_batch", "network calls", "bound ⌈cells·batch/max⌉", "ms/img", "speed-up vs loop"]
    print(tabulate(rows, headers=headers, tablefmt="github"))


if __name__ == "__main__":
    main()
