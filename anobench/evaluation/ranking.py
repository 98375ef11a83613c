"""Rank stability (challengeR): how firmly a board's ranking stands when the cases are resampled.

Every run of a board carries its headline metric in each bootstrap resample, drawn alike for all
runs (the paired bootstrap). Ranking the runs within each resample gives each run's distribution of
ranks: the share of resamples it ranks first, its mean rank, and — for the whole board — Kendall's
τ between each resample's ranking and the reported one (1: every resample agrees).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats


@dataclass(frozen=True)
class RankStability:
    reported: np.ndarray  # each run's rank on the board (1: best; ties share the mean rank)
    first: np.ndarray  # share of resamples each run ranks first (shared firsts count for each)
    mean_rank: np.ndarray
    frequencies: np.ndarray  # runs × ranks: share of resamples at each rank (the blob plot's data)
    kendall_tau: float  # mean over resamples of τ between its ranking and the reported one


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks along the last axis, 1 the highest value, ties at their mean rank; NaN ranks last."""
    filled = np.where(np.isfinite(values), values, -np.inf)
    return np.apply_along_axis(lambda row: scipy_stats.rankdata(-row, method="average"), -1, filled)


def rank_stability(values: np.ndarray, resampled: np.ndarray) -> RankStability:
    """`values`: each run's reported headline; `resampled`: runs × resamples of it."""
    runs = len(values)
    reported = ranks(np.asarray(values, dtype=np.float64))
    drawn = ranks(np.asarray(resampled, dtype=np.float64).T)  # resamples × runs
    frequencies = np.stack([(np.round(drawn) == rank).mean(axis=0) for rank in range(1, runs + 1)], axis=1)
    taus = [scipy_stats.kendalltau(reported, row).statistic for row in drawn] if runs > 1 else [np.nan]
    finite = [tau for tau in taus if np.isfinite(tau)]
    return RankStability(
        reported,
        (drawn == drawn.min(axis=1, keepdims=True)).mean(axis=0),
        drawn.mean(axis=0),
        frequencies,
        float(np.mean(finite)) if finite else float("nan"),
    )
