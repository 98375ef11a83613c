"""The ratios anobench promises, measured in one run, written to reports/performance.md.

- harness overhead: share of a DDPM run's scoring loop spent outside the network (forward_share);
- THOR's cost against DDPM's at equal NFE (thor_vs_ddpm);
- throughput at the run's batch size against batch size 1 (THOR, same cases, same process);
- simplex-noise share of a THOR (simplex) run (simplex_share);
- the leaderboard bootstrap: 10,000 resamples × 1,000 cases × 6 methods (bootstrap_speed);
- images per second and the floor NFE × one forward call's time, on whatever device runs it
  (CUDA when present: timed with CUDA events).

    .venv/bin/python bench/performance_report.py [--cases N] [--out reports/performance.md]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import bootstrap_speed
import forward_share
import simplex_share
import thor_vs_ddpm
import torch

from anobench import registry
from anobench.api import Batch, DatasetContext, MethodContext, load_cases
from anobench.devices import Stopwatch, select_device
from anobench.diffusion.presets import get_preset
from anobench.provenance import device_name
from anobench.store import folder as store


def batch_throughput(cases_count: int, batch_size: int, device: torch.device) -> dict[str, float]:
    """THOR's images per second at `batch_size` and at 1 (after a warm-up at each), and the
    floor: NFE × the time of one forward call at that batch size, per image."""
    preset = get_preset("cpu-small")
    cases = load_cases(registry.datasets.get("brain-phantom").open({}, DatasetContext(preset.image_size)), "test")[
        :cases_count
    ]
    thor = registry.methods.get("thor").create(
        {}, MethodContext("brain-phantom", preset.name, preset.image_size, device)
    )
    stopwatch = Stopwatch(device)

    def batches(size: int):  # type: ignore[no-untyped-def]
        for first in range(0, len(cases), size):
            chunk = cases[first : first + size]
            yield Batch(torch.stack([torch.from_numpy(c.image) for c in chunk])[:, None], [c.case_id for c in chunk], 0)

    rates = {}
    with torch.inference_mode():
        for size in (batch_size, 1):
            thor.predict(next(batches(size)))
            seconds = 0.0
            for batch in batches(size):
                stopwatch.start()
                prediction = thor.predict(batch)
                prediction.maps.cpu()
                seconds += stopwatch.stop()
            rates[size] = len(cases) / seconds
        model = thor.model
        x = torch.zeros(batch_size, 1, preset.image_size, preset.image_size, device=device)
        model.predict(x, 100)
        stopwatch.start()
        for _ in range(5):
            model.predict(x, 100)
        forward = stopwatch.stop() / 5
    nfe = prediction.nfe
    return {
        "batch": rates[batch_size],
        "one": rates[1],
        "forward": forward,
        "nfe": nfe,
        "floor_per_image": nfe * forward / batch_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("reports/performance.md"))
    args = parser.parse_args()
    device = select_device(None)
    started = time.perf_counter()
    harness = forward_share.measure(limit=2 * args.cases, batch_size=args.batch_size)
    thor = thor_vs_ddpm.measure(args.cases, args.batch_size, repeats=1)
    throughput = batch_throughput(args.cases, args.batch_size, device)
    simplex = simplex_share.measure(args.cases, args.batch_size)
    bootstrap = bootstrap_speed.measure()
    rows = [
        (
            "harness overhead (share of the DDPM scoring loop outside the network)",
            f"{1 - harness['network'] / harness['loop']:.1%}",
            "≤ 10 %",
        ),
        *(
            (f"{name} / DDPM seconds at equal NFE (network time equalised)", f"{ratio:.3f} ({equalised:.3f})", "≤ 1.05")
            for name, (ratio, equalised) in thor["ratios"].items()
        ),
        (
            f"THOR images/s at batch {args.batch_size} / at batch 1",
            f"{throughput['batch'] / throughput['one']:.2f}",
            "≥ 3 on a GPU (paper preset)",
        ),
        ("simplex-noise share of a THOR (simplex) run", f"{simplex['noise'] / simplex['total']:.1%}", "≤ 10 %"),
        (
            "bootstrap, 10,000 resamples × 1,000 cases × 6 methods (Dice, 3 bins + all)",
            f"{bootstrap['total']:.2f} s",
            "≤ 2 s",
        ),
        (
            "  exact protocol (every distinct map value; Dice 3 bins + all and AUPRC), 1,000 resamples, 64² maps",
            f"{bootstrap['exact']:.2f} s",
            "–",
        ),
        (f"THOR images/s at batch {args.batch_size} ({device.type})", f"{throughput['batch']:.2f}", "–"),
        (
            f"floor: NFE × one forward call at batch {args.batch_size}, per image / measured seconds per image",
            f"{throughput['floor_per_image']:.3f} s / {1 / throughput['batch']:.3f} s "
            f"({throughput['floor_per_image'] * throughput['batch']:.0%})",
            "–",
        ),
    ]
    machine = (
        f"{device_name(device)}, {torch.get_num_threads()} CPU threads, torch {torch.__version__}, "
        f"{platform.system()} {platform.machine()}"
    )
    lines = [
        "# Performance",
        "",
        f"Measured {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} on {machine} by "
        f"`python {' '.join(['bench/performance_report.py', *sys.argv[1:]])}` in {time.perf_counter() - started:.0f} s "
        f"(brain phantom, cpu-small preset, {args.cases}–{2 * args.cases} test slices per measurement). Ratios, "
        "because this machine's absolute speed varies from run to run.",
        "",
        "| measurement | value | target |",
        "|---|---|---|",
        *(f"| {name} | {value} | {target} |" for name, value, target in rows),
        "",
    ]
    store.write_text(args.out, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
