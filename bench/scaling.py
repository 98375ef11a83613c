"""How time and peak memory grow with the number of cases, for `anobench compare` and `anobench run`.

compare: two finished runs of N cases of 128×128 maps each are fabricated straight into the store
(a brain-shaped region of gamma-distributed residuals, zero outside it, a disk lesion of a random
size — every size bin — brighter by a random amount, some slices without lesion; a healthy split
of N/10 cases scored alongside), then `anobench compare A B` (the default protocol: exact while the
runs fit in memory, binned beyond) is timed as a user runs it, its peak resident memory read from
the kernel (wait4).

run: `anobench run` of the example plugin pair (`example-residual`, a 5×5 mean-filter residual,
on `example-squares` with N test cases at 128×128: `make` installs it as an outside plugin), in
one process whose peak resident memory is read the same way; the time spent loading cases and
inside the method's `predict` is measured around those calls, the rest of the wall time is the
harness's (rows, journal, chunks, publication, progress).

    .venv/bin/python bench/scaling.py [--cases 1000,10000,100000] [--work DIR] [--what compare,run]

Prints a Markdown table, writes docs/images/scaling.png and the measurements (WORK/scaling.json;
`bench/scaling.py replot WORK/scaling.json` draws the figure again); the fabricated runs take about
7 GB per 100,000 cases under --work (default: a temporary folder, removed after).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SIDE = 128
PYTHON = sys.executable
HERE = Path(__file__).resolve().parent


def fabricate(folder: Path, cases: int, seed: int, quality: float) -> None:
    """A finished run of `cases` cases (and a healthy split of cases/10), written chunk by chunk."""
    from anobench.store import chunks
    from anobench.store import folder as store
    from anobench.store.chunk_writer import ChunkSetWriter
    from anobench.store.rows import ROW_COLUMNS, size_bin, write_rows

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIDE, :SIDE]
    brain = ((yy - 64) / 54.0) ** 2 + ((xx - 64) / 44.0) ** 2 <= 1.0
    for part, count, lesions in ((folder, cases, True), (folder / store.HEALTHY, max(cases // 10, 1), False)):
        size = chunks.chunk_cases(SIDE, SIDE)
        writer = ChunkSetWriter(part / chunks.ARRAYS, (SIDE, SIDE))
        lesion_pixels = []
        for first in range(0, count, size):
            n = min(size, count - first)
            maps = rng.standard_gamma(2.0, size=(n, SIDE, SIDE), dtype=np.float32) * np.float32(0.03) * brain
            masks = np.zeros((n, SIDE, SIDE), bool)
            if lesions:
                radii = rng.choice([0, 2, 4, 8, 14, 22], size=n)
                centres = rng.integers(40, 88, size=(n, 2))
                masks = (yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2 <= radii[:, None, None] ** 2
                masks &= radii[:, None, None] > 0
                maps += masks * rng.uniform(0.0, quality, size=(n, 1, 1)).astype(np.float32)
            writer.add({"maps": maps, "masks": masks})
            lesion_pixels += masks.sum(axis=(1, 2)).tolist()
        writer.close(count)
        rows = pd.DataFrame(
            {
                "index": range(count),
                "case_id": [f"c{i:06d}" for i in range(count)],
                "subject_id": [None] * count,
                "lesion_pixels": lesion_pixels,
                "size_bin": [size_bin(n, SIDE, SIDE) for n in lesion_pixels],
                "score": [0.0] * count,
                "nfe": [1] * count,
                "seconds": [0.01] * count,
                "batch_size": [8] * count,
                "batch": [1] * count,
            },
            columns=ROW_COLUMNS,
        )
        write_rows(part / "cases.parquet", rows)
    config = {"method": f"fabricated-{seed}", "dataset": "fabricated", "split": "test", "healthy_split": "val"}
    store.write_json(folder / store.CONFIG, {**config, "method_settings": {"quality": quality}})
    store.write_json(folder / store.PROVENANCE, {"data_manifest": "fabricated", "device": "cpu"})
    store.seal(folder)


def measured(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds and peak resident memory (MiB) of a command, and what it printed."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, output


def compare_point(work: Path, cases: int) -> dict[str, float]:
    runs = [work / f"compare-{cases}" / name for name in ("a", "b")]
    for seed, (run, quality) in enumerate(zip(runs, (0.5, 0.3))):
        if not (run / "result-set.json").is_file():
            subprocess.run([PYTHON, __file__, "fabricate", str(run), str(cases), str(seed), str(quality)], check=True)
    board = work / f"boards-{cases}"
    command = [str(Path(PYTHON).parent / "anobench"), "compare", *map(str, runs), "--out-dir", str(board)]
    seconds, peak, output = measured([*command, "--overwrite"])
    text = next(board.glob("*.md")).read_text()
    search = "binned" if "Binned search" in text else "exact"
    return {"cases": cases, "seconds": seconds, "peak_mib": peak, "search": search, "board": output}


RUN_CHILD = """
import json, resource, sys, time
from pathlib import Path
from anobench_example import dataset, method
from anobench.running.harness import RunRequest, run

spent = {"load": 0.0, "predict": 0.0}
def timed(function, key):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[key] += time.perf_counter() - started
    return wrapper
dataset.Squares.load_case = timed(dataset.Squares.load_case, "load")
method.Residual.predict = timed(method.Residual.predict, "predict")
cases, out = int(sys.argv[1]), Path(sys.argv[2])
started = time.perf_counter()
summary = run(RunRequest("example-residual", "example-squares", preset="paper", dataset_options={"cases": str(cases)},
                         out=out, overwrite=True, latency_cases=0, device="cpu"))
wall = time.perf_counter() - started
print(json.dumps({"wall": wall, **spent, "cases": summary.cases}))
"""


def run_point(work: Path, cases: int) -> dict[str, float]:
    out = work / f"run-{cases}"
    seconds, peak, output = measured([PYTHON, "-c", RUN_CHILD, str(cases), str(out)])
    result = json.loads(output.strip().splitlines()[-1])
    harness = result["wall"] - result["load"] - result["predict"]
    shutil.rmtree(out, ignore_errors=True)
    return {
        "cases": cases,
        "seconds": result["wall"],
        "peak_mib": peak,
        "load": result["load"],
        "predict": result["predict"],
        "harness": harness,
    }


def plot(compare: list[dict[str, float]], runs: list[dict[str, float]], path: Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.6), layout="constrained")
    seconds, memory = figure.subplots(1, 2)
    for points, label in ((compare, "compare (2 runs)"), (runs, "run")):
        if points:
            x = [p["cases"] for p in points]
            seconds.plot(x, [p["seconds"] for p in points], marker="o", label=label)
            memory.plot(x, [p["peak_mib"] for p in points], marker="o", label=label)
    memory.axhline(2048, color="grey", linestyle="--", linewidth=1, label="2 GiB")
    seconds.set(yscale="log")
    memory.set(ylim=(0, 2300))
    for axis, title in ((seconds, "wall seconds"), (memory, "peak resident memory (MiB)")):
        axis.set(xscale="log", xlabel="cases (128×128)", title=title)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "fabricate":
        fabricate(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "replot":  # replot RESULTS.json [PNG]: the figure of a measured run
        measured_points = json.loads(Path(sys.argv[2]).read_text())
        target = Path(sys.argv[3]) if len(sys.argv) > 3 else HERE.parent / "docs" / "images" / "scaling.png"
        plot(measured_points["compare"], measured_points["run"], target)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="1000,10000,100000")
    parser.add_argument("--work", type=Path, default=None, help="where the runs go (default: a temporary folder)")
    parser.add_argument("--what", default="compare,run")
    parser.add_argument("--plot", type=Path, default=HERE.parent / "docs" / "images" / "scaling.png")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="anobench-scaling-"))
    sizes = [int(n) for n in args.cases.split(",")]
    compare, runs = [], []
    for cases in sizes:
        if "compare" in args.what:
            compare.append(compare_point(work, cases))
            point = compare[-1]
            print(f"compare {cases:>7}: {point['seconds']:7.1f} s, {point['peak_mib']:6.0f} MiB ({point['search']})")
        if "run" in args.what:
            runs.append(run_point(work, cases))
            point = runs[-1]
            share = point["harness"] / point["seconds"]
            print(
                f"run     {cases:>7}: {point['seconds']:7.1f} s, {point['peak_mib']:6.0f} MiB; load "
                f"{point['load']:.1f} s, predict {point['predict']:.1f} s, harness {point['harness']:.1f} s "
                f"({100 * share:.0f} %, {1e6 * point['harness'] / cases:.0f} µs per case)"
            )
    print("\n| cases | compare: s | compare: peak MiB | search | run: s | run: peak MiB | run: harness µs/case |")
    print("|---|---|---|---|---|---|---|")
    for index, cases in enumerate(sizes):
        c = compare[index] if compare else None
        r = runs[index] if runs else None
        cells = [f"{cases:,}"]
        cells += [f"{c['seconds']:.1f}", f"{c['peak_mib']:.0f}", str(c["search"])] if c else ["–"] * 3
        harness = f"{1e6 * r['harness'] / cases:.0f}" if r else "–"
        cells += [f"{r['seconds']:.1f}", f"{r['peak_mib']:.0f}", harness] if r else ["–"] * 3
        print("| " + " | ".join(cells) + " |")
    (work / "scaling.json").write_text(json.dumps({"compare": compare, "run": runs}, indent=1))
    plot(compare, runs, args.plot)
    print(f"\nplot: {args.plot}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
