"""Time of the leaderboard bootstrap (target: 10,000 resamples × 1,000 cases × 6 methods ≤ 2 s).

Per method, the pooled max-Dice of each lesion-size bin and of all cases in every resample — what a
brain board computes — from synthetic per-case threshold counts of 1,000 cases (sums of per-case
counts, so the pixel values do not matter). The resamples are drawn once, as a board does for runs
on the same cases. AUPRC's resampling (512 score bins) is timed too and reported apart.

    .venv/bin/python bench/bootstrap_speed.py [--resamples R] [--cases N] [--methods M]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from anobench import stats
from anobench.metrics import DICE_EPSILON, THRESHOLDS

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
        histograms = rng.integers(0, 50, (cases, 512)), rng.integers(0, 5000, (cases, 512))
        methods.append((predicted, true_positive, positives, histograms))
    start = time.perf_counter()
    weights = stats.resample_counts(cases, resamples, seed=0)
    drawn = time.perf_counter()
    for predicted, true_positive, positives, _ in methods:
        for members in [bins == b for b in range(3)] + [np.ones(cases, bool)]:
            stats.pooled_dice_curves(
                weights[:, members], predicted[members], true_positive[members], positives[members], DICE_EPSILON
            ).max(axis=1)
    dice_done = time.perf_counter()
    for *_, (positive, negative) in methods:
        stats.average_precision_resamples(weights, positive, negative)
    auprc_done = time.perf_counter()
    return {"draw": drawn - start, "dice": dice_done - drawn, "total": dice_done - start, "auprc": auprc_done - dice_done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--cases", type=int, default=1_000)
    parser.add_argument("--methods", type=int, default=6)
    args = parser.parse_args()
    m = measure(args.resamples, args.cases, args.methods)
    print(f"{args.resamples} resamples × {args.cases} cases × {args.methods} methods, {torch.get_num_threads()} threads")
    print(f"  drawing the resamples         {m['draw']:6.2f} s")
    print(f"  pooled max-Dice, 3 bins + all {m['dice']:6.2f} s")
    print(f"  total for Dice                {m['total']:6.2f} s   (target ≤ {TARGET_SECONDS:g} s: "
          f"{'met' if m['total'] <= TARGET_SECONDS else 'NOT met'}, {m['total'] / TARGET_SECONDS:.2f} of it)")
    print(f"  AUPRC (512 score bins)        {m['auprc']:6.2f} s   (reported apart)")


if __name__ == "__main__":
    main()
