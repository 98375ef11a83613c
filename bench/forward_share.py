"""Share of a DDPM run's wall time spent inside UNet forward calls (target: ≥ 90%).

Runs `anobench run --method ddpm --dataset brain-phantom` through the same harness code path as
the CLI (shipped checkpoint, preset defaults) and prints, from that one run:
  - network seconds / harness-loop seconds (batches scored, maps collected), and
  - network seconds / the whole `run()` call (dataset and model loading and result writing too).

    .venv/bin/python bench/forward_share.py [--limit N] [--batch-size B]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from anobench.running.harness import RunRequest, run


def measure(limit: int | None = None, batch_size: int = 8) -> dict[str, float]:
    """One DDPM run: its cases, network seconds, harness-loop seconds and whole run() seconds."""
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        summary = run(
            RunRequest(
                method="ddpm",
                dataset="brain-phantom",
                batch_size=batch_size,
                device="cpu",
                out=Path(scratch) / "run",
                limit=limit,
                latency_cases=0,
            )
        )
        whole = time.perf_counter() - start
    return {"cases": summary.cases, "network": summary.network_seconds, "loop": summary.wall_seconds, "whole": whole}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="score only the first N cases")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    m = measure(args.limit, args.batch_size)
    print(f"cases: {m['cases']}, batch size {args.batch_size}")
    print(f"network seconds: {m['network']:.2f}")
    print(f"harness loop: {m['loop']:.2f} s, network share {m['network'] / m['loop']:.1%}")
    print(f"whole run() call: {m['whole']:.2f} s, network share {m['network'] / m['whole']:.1%}")


if __name__ == "__main__":
    main()
