"""Paired comparisons of runs on the same cases: which leaderboard differences are real.

For every pair of runs that scored the same cases (same ids, same order): the difference of their
pooled metric with a paired-bootstrap interval (both runs see the same resamples) and p-value, and
a Wilcoxon signed-rank test on their per-case scores. Both families of p-values are Holm-corrected
across all pairs; a difference is called significant when both corrected p-values are below 0.05
(the bootstrap tests the pooled number the board shows, Wilcoxon whether cases move consistently).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Protocol, Sequence

import numpy as np

from anobench.evaluation.bootstrap import SIGNIFICANCE, Estimate, holm, paired_difference, wilcoxon_p


class Comparable(Protocol):
    """A run's metrics as paired comparisons read them (`RunMetrics`, `BoxRunMetrics`)."""

    @property
    def case_ids(self) -> tuple[str, ...]: ...

    @property
    def intervals(self) -> dict[str, Estimate]: ...

    @property
    def resampled(self) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class PairComparison:
    first: int  # positions in the list of runs compared
    second: int
    difference: Estimate  # first − second
    p_bootstrap: float  # Holm-adjusted
    p_wilcoxon: float  # Holm-adjusted

    @property
    def significant(self) -> bool:
        return bool(self.p_bootstrap < SIGNIFICANCE and self.p_wilcoxon < SIGNIFICANCE)


def compare_pairs(runs: Sequence[Comparable], metric: str, case_scores: Sequence[np.ndarray]) -> list[PairComparison]:
    """Every pair of `runs` with the same cases, compared on `metric` (a key of their intervals)."""
    pairs = [(i, j) for i, j in combinations(range(len(runs)), 2) if runs[i].case_ids == runs[j].case_ids]
    differences, p_bootstrap, p_wilcoxon = [], [], []
    for i, j in pairs:
        a, b = runs[i], runs[j]
        difference, p = paired_difference(
            a.intervals[metric].value, b.intervals[metric].value, a.resampled[metric], b.resampled[metric]
        )
        differences.append(difference)
        p_bootstrap.append(p)
        p_wilcoxon.append(wilcoxon_p(case_scores[i], case_scores[j]))
    return [
        PairComparison(i, j, difference, float(pb), float(pw))
        for (i, j), difference, pb, pw in zip(pairs, differences, holm(p_bootstrap), holm(p_wilcoxon))
    ]


def versus_best(count: int, values: Sequence[float], pairs: Sequence[PairComparison]) -> list[str]:
    """Per run: "best", or whether its difference from the best run is significant ("yes"/"no"),
    or "–" when it did not score the same cases."""
    best = int(np.nanargmax(values)) if count and not np.all(np.isnan(values)) else -1
    verdicts = []
    for index in range(count):
        pair = next((p for p in pairs if {p.first, p.second} == {index, best}), None)
        verdicts.append("best" if index == best else "–" if pair is None else "yes" if pair.significant else "no")
    return verdicts
