"""Time of the leaderboard bootstrap (target: 10,000 resamples × 1,000 cases × 6 methods ≤ 2 s).

Per method, the pooled max-Dice of each lesion-size bin and of all cases in every resample — what a
brain board computes — from synthetic per-case threshold counts of 1,000 cases (sums of per-case
counts, so the pixel values do not matter). The resamples are drawn once, as a board does for runs
on the same cases. Apart: the exact protocol (max-Dice over every distinct map value, 3 bins + all,
and AUPRC; `anobench compare`'s default) on synthetic 64² maps with square lesions, at the boards'
1,000 resamples.

    .venv/bin/python bench/bootstrap_speed.py [--resamples R] [--cases N] [--methods M]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from anobench.evaluation import bootstrap as stats
from anobench.evaluation.pixel_metrics import DICE_EPSILON, THRESHOLDS
from anobench.evaluation.pixel_protocol import pixel_scores
from anobench.store.rows import size_bin

TARGET_SECONDS = 2.0


def measure(resamples: int = 10_000, cases: int = 1_000, methods_count: int = 6) -> dict[str, float]:
    """Seconds to draw the resamples, to bootstrap every method's pooled Dice (3 bins + all), and AUPRC."""
    rng = np.random.default_rng(0)
    bins = rng.integers(0, 3, cases)
    methods = []
    for _ in range(methods_count):
        positives = rng.integers(4, 2000, cases)
        predicted = np.sort(rng.integers(0, 16384, (cases, len(THRESHOLDS))), axis=1)[:, ::-1].copy()
        true_positive = np.minimum(predicted, (positives[:, None] * rng.random((cases, 1))).astype(int))
        methods.append((predicted, true_positive, positives))
    start = time.perf_counter()
    weights = stats.resample_counts(cases, resamples, seed=0)
    drawn = time.perf_counter()
    for predicted, true_positive, positives in methods:
        for members in [bins == b for b in range(3)] + [np.ones(cases, bool)]:
            stats.pooled_dice_curves(
                weights[:, members], predicted[members], true_positive[members], positives[members], DICE_EPSILON
            ).max(axis=1)
    dice_done = time.perf_counter()
    return {
        "draw": drawn - start,
        "dice": dice_done - drawn,
        "total": dice_done - start,
        "exact": measure_exact(cases, methods_count),
    }


def measure_exact(cases: int, methods_count: int, resamples: int = stats.RESAMPLES, side: int = 64) -> float:
    """Seconds of the exact pixel protocol (Dice 3 bins + all, AUPRC, with their resamples) for every method."""
    rng = np.random.default_rng(1)
    sides = rng.integers(2, 40, cases)  # lesion squares of 4 to 1,521 pixels: every size bin
    masks = np.zeros((cases, side, side), bool)
    for case, width in enumerate(sides):
        masks[case, 8 : 8 + width, 8 : 8 + width] = True
    bins = np.array([size_bin(int(m.sum()), side, side) for m in masks], dtype=object)
    weights = stats.resample_counts(cases, resamples, seed=0)
    start = time.perf_counter()
    for _ in range(methods_count):
        maps = (rng.random((cases, side, side)) * 0.6 + 0.4 * masks * rng.random((cases, 1, 1))).astype(np.float32)
        pixel_scores(maps, masks, bins, weights, "exact")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--cases", type=int, default=1_000)
    parser.add_argument("--methods", type=int, default=6)
    args = parser.parse_args()
    m = measure(args.resamples, args.cases, args.methods)
    print(
        f"{args.resamples} resamples × {args.cases} cases × {args.methods} methods, {torch.get_num_threads()} threads"
    )
    print(f"  drawing the resamples         {m['draw']:6.2f} s")
    print(f"  pooled max-Dice, 3 bins + all {m['dice']:6.2f} s")
    print(
        f"  total for Dice                {m['total']:6.2f} s   (target ≤ {TARGET_SECONDS:g} s: "
        f"{'met' if m['total'] <= TARGET_SECONDS else 'NOT met'}, {m['total'] / TARGET_SECONDS:.2f} of it)"
    )
    print(f"  exact protocol (Dice 3 bins + all, AUPRC), {stats.RESAMPLES} resamples, 64² maps: {m['exact']:6.2f} s")


if __name__ == "__main__":
    main()
