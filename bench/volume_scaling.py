"""How time and peak memory of the volume board grow with the number of subjects.

A finished run of S subjects × D slices of 128×128 maps is fabricated straight into the store (a
brain-shaped mask per slice, gamma residuals inside it, one ellipsoid lesion per subject spanning
several slices and brighter by a random amount; S/10 healthy validation and S/10 held-out healthy
subjects beside it), then `anobench compare RUN --layout volume` is timed as a user runs it, its
peak resident memory read from the kernel (wait4, as bench/scaling.py does).

    .venv/bin/python bench/volume_scaling.py [--subjects 25,250] [--depth 32] [--work DIR]

Prints a Markdown table; the fabricated runs take about 90 MB per 1,000 slices under --work
(default: a temporary folder, removed after).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scaling import PYTHON, SIDE, measured  # noqa: E402


def fabricate(folder: Path, subjects: int, depth: int, seed: int) -> None:
    from anobench.store import chunks
    from anobench.store import folder as store
    from anobench.store.chunk_writer import ChunkSetWriter
    from anobench.store.rows import ROW_COLUMNS, size_bin, write_rows

    rng = np.random.default_rng(seed)
    grid = np.mgrid[:depth, :SIDE, :SIDE].astype(np.float32)
    zz, yy, xx = grid
    brain = ((yy - 64) / 54.0) ** 2 + ((xx - 64) / 44.0) ** 2 <= 1.0 - ((zz - depth / 2) / depth) ** 2
    held = max(subjects // 10, 1)
    for part, count, lesions in ((folder, subjects, True), (folder / store.HEALTHY, held, False)):
        for target in [part] + ([folder / store.HEALTHY_TEST] if not lesions else []):
            writer = ChunkSetWriter(target / chunks.ARRAYS, (SIDE, SIDE))
            rows = []
            for subject in range(count):
                maps = rng.standard_gamma(2.0, size=brain.shape, dtype=np.float32) * np.float32(0.03) * brain
                lesion = np.zeros(brain.shape, bool)
                if lesions:
                    centre = rng.uniform([depth / 3, 45, 45], [2 * depth / 3, 83, 83])
                    radii = rng.uniform([2, 4, 4], [depth / 4, 20, 20])
                    scaled = (grid - centre[:, None, None, None]) / radii[:, None, None, None]
                    lesion = (scaled**2).sum(axis=0) <= 1
                    lesion &= brain
                    maps += lesion * np.float32(rng.uniform(0.1, 0.5))
                writer.add({"maps": maps, "masks": lesion, "brain_masks": brain})
                for z in range(depth):
                    pixels = int(lesion[z].sum())
                    rows.append(
                        {
                            "index": len(rows),
                            "case_id": f"s{subject:05d}_z{z:03d}",
                            "subject_id": f"s{subject:05d}",
                            "lesion_pixels": pixels,
                            "size_bin": size_bin(pixels, SIDE, SIDE),
                            "score": float(maps[z].max()),
                            "nfe": 1,
                            "seconds": 0.01,
                            "batch_size": 8,
                            "batch": 1,
                            "slice_index": z,
                        }
                    )
            writer.close(len(rows))
            write_rows(target / "cases.parquet", pd.DataFrame(rows, columns=ROW_COLUMNS))
    config = {"method": f"fabricated-{seed}", "dataset": "fabricated-volumes", "split": "test"}
    store.write_json(folder / store.CONFIG, {**config, "evaluation": {"volumes": True}})
    store.write_json(folder / store.PROVENANCE, {"data_manifest": "fabricated", "device": "cpu"})
    store.seal(folder)


def point(work: Path, subjects: int, depth: int) -> dict[str, float]:
    run = work / f"volumes-{subjects}"
    if not (run / "result-set.json").is_file():
        subprocess.run([PYTHON, __file__, "fabricate", str(run), str(subjects), str(depth)], check=True)
    board = work / f"board-{subjects}"
    command = [str(Path(PYTHON).parent / "anobench"), "compare", str(run), "--layout", "volume"]
    seconds, peak, _ = measured([*command, "--out-dir", str(board), "--overwrite"])
    return {"subjects": subjects, "slices": subjects * depth, "seconds": seconds, "peak_mib": peak}


def main() -> None:
    if sys.argv[1:2] == ["fabricate"]:
        fabricate(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), seed=0)
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", default="25,250")
    parser.add_argument("--depth", type=int, default=32)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="anobench-volume-scaling-"))
    try:
        points = [point(work, int(count), args.depth) for count in args.subjects.split(",")]
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print("| subjects | slices | compare --layout volume: s | peak MiB |\n|---|---|---|---|")
    for p in points:
        print(f"| {p['subjects']:,} | {p['slices']:,} | {p['seconds']:.1f} | {p['peak_mib']:.0f} |")


if __name__ == "__main__":
    main()
