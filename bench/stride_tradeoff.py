"""Accuracy against cost: Dice against network calls for THOR and DDPM at sampler strides 1–25.

Scores the brain phantom's test split with each method (shipped Gaussian cpu-small checkpoint,
preset settings) at every stride, keeps every run (a finished one is reused unless its settings
differ or the checkpoint it read has been replaced since: a retrained checkpoint scores again),
and writes the table and the plot to reports/stride-tradeoff/ (index.md, dice-vs-nfe.png).

    .venv/bin/python bench/stride_tradeoff.py [--strides 1,2,5,10,25] [--limit N] [--sampler ddpm]
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import torch
from tabulate import tabulate

from anobench.evaluation.cells import method_label
from anobench.evaluation.figures import estimate_lines
from anobench.evaluation.pixel_protocol import evaluate_run
from anobench.provenance import device_name
from anobench.running.harness import RunRequest, run
from anobench.running.reuse import outdated_by
from anobench.store import folder as store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strides", default="1,2,5,10,25")
    parser.add_argument("--methods", default="thor,ddpm")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N test slices")
    parser.add_argument("--sampler", default="ddpm", help="ddpm (ancestral) or ddim")
    parser.add_argument("--runs", type=Path, default=Path("runs/stride-tradeoff"))
    parser.add_argument("--out", type=Path, default=Path("reports/stride-tradeoff"))
    args = parser.parse_args()
    strides = [int(value) for value in args.strides.split(",")]
    rows, series = [], {}
    for method in args.methods.split(","):
        for stride in strides:
            folder = args.runs / args.sampler / method / f"k{stride}"
            request = RunRequest(
                method=method,
                dataset="brain-phantom",
                out=folder,
                overwrite=True,
                limit=args.limit,
                method_options={"stride": str(stride), "sampler": args.sampler},
                latency_cases=4,
            )
            if not store.is_complete(folder) or outdated_by(request, folder):
                run(request)
            m = evaluate_run(folder)
            dice = m.intervals["dice all"]
            series.setdefault(method_label(m.run), []).append((m.run.nfe, dice))
            rows.append(
                [
                    method_label(m.run),
                    stride,
                    f"{m.run.nfe:g}",
                    f"{100 * dice.value:.2f} [{100 * dice.low:.1f}, {100 * dice.high:.1f}]",
                    f"{m.run.latency_batch[0]:.3f}",
                    f"{m.run.latency_one[0]:.3f}",
                ]
            )
    args.out.mkdir(parents=True, exist_ok=True)
    estimate_lines(
        series,
        args.out / "dice-vs-nfe.png",
        "network calls per image (log)",
        f"Dice against cost ({args.sampler} sampler)",
        log_x=True,
    )
    headers = ["method", "stride", "NFE/img", "Dice all [95% CI]", "s/img (batch 8, median)", "s/img (batch 1, median)"]
    table = tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
    machine = f"{device_name(torch.device('cpu'))}, {torch.get_num_threads()} threads, {platform.system()}"
    text = (
        f"# Accuracy against cost on the brain phantom\n\nMade by `python bench/stride_tradeoff.py "
        f"--strides {args.strides} --methods {args.methods} --sampler {args.sampler}"
        f"{f' --limit {args.limit}' if args.limit else ''}` on {machine}. Runs: `{args.runs}`.\n\n{table}\n\n"
        "![Dice against NFE](dice-vs-nfe.png)\n"
    )
    store.write_text(args.out / "index.md", text)
    print(table)


if __name__ == "__main__":
    main()
