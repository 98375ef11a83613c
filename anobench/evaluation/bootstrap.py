"""Uncertainty of leaderboard numbers: case (or subject) bootstrap, paired comparisons, Holm.

Every metric anobench reports is a function of sums over cases: pooled Dice and AUPRC of per-case
counts over thresholds, box recall / F1 of per-box values, FROC of
per-image counts. A bootstrap resample is therefore a vector of case multiplicities (how often each
case was drawn), and the resampled sums of all R resamples are one matrix product W·X — there is no
Python loop over resamples. With several slices per subject the subjects are resampled (cluster
bootstrap) and each slice inherits its subject's multiplicity.

The resamples depend only on (number of cases, clusters, R, seed), so two runs on the same cases see
the same resamples: the difference of their resampled metrics is the paired bootstrap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

RESAMPLES = 1000
CONFIDENCE = 0.95
SEED = 0
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Estimate:
    """A metric on the cases with its percentile bootstrap interval."""

    value: float
    low: float
    high: float

    def scaled(self, factor: float) -> "Estimate":
        return Estimate(self.value * factor, self.low * factor, self.high * factor)


def resample_counts(
    cases: int, resamples: int = RESAMPLES, seed: int = SEED, clusters: Sequence[object] | None = None
) -> np.ndarray:
    """R×N multiplicities of the N cases in R bootstrap resamples (float32, rows sum to ≈ N).

    With `clusters` (one label per case), the distinct labels are drawn with replacement and each
    case takes its cluster's count.
    """
    resampler = MultinomialResampler.draw(*units_of(cases, clusters), resamples, seed)
    return resampler.weights(np.arange(cases))


def units_of(cases: int, clusters: Sequence[object] | None) -> tuple[np.ndarray, int]:
    """The resampled unit of each case (itself, or its cluster in sorted label order) and their number."""
    if clusters is None:
        return np.arange(cases), cases
    _, labels = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
    return labels, int(labels.max()) + 1 if cases else 0


class Resampler(Protocol):
    """Bootstrap resamples as multiplicities of cases, handed out for any cases when they are read:
    the same cases get the same weights in every run of a board (the paired bootstrap)."""

    @property
    def resamples(self) -> int: ...

    def weights(self, cases: np.ndarray) -> np.ndarray: ...  # R × len(cases) multiplicities


@dataclass(frozen=True)
class MultinomialResampler:
    """The classical bootstrap: each resample draws the U units with replacement, all R resamples at
    once (R×U counts in memory: for boards of up to `MULTINOMIAL_CELLS` of them)."""

    counts: np.ndarray  # R × U
    labels: np.ndarray  # the unit of each case

    @classmethod
    def draw(cls, labels: np.ndarray, units: int, resamples: int, seed: int) -> "MultinomialResampler":
        rng = np.random.default_rng(seed)
        drawn = rng.integers(0, units, size=(resamples, units)) if units else np.zeros((resamples, 0), np.int64)
        # counts of each unit per resample: one bincount over (resample, unit) pairs
        offsets = (np.arange(resamples)[:, None] * units + drawn).ravel()
        counts = np.bincount(offsets, minlength=resamples * units).reshape(resamples, units)
        return cls(counts.astype(np.float32), labels)

    @property
    def resamples(self) -> int:
        return len(self.counts)

    def weights(self, cases: np.ndarray) -> np.ndarray:
        return self.counts[:, self.labels[cases]]


@dataclass
class PoissonResampler:
    """The Poisson bootstrap: each unit is drawn Poisson(1) times in each resample, independently, from
    a generator seeded by (seed, block of units), so the weights of any case are drawn where it is
    read, in memory that does not grow with the board. For thousands of units it is the multinomial
    bootstrap's large-sample equivalent (Hanley & MacGibbon 2006; Chamandy et al. 2012), used above
    `MULTINOMIAL_CELLS`."""

    labels: np.ndarray
    resamples: int
    seed: int
    _blocks: dict[int, np.ndarray] = field(default_factory=dict)

    def _block(self, block: int) -> np.ndarray:
        if block not in self._blocks:
            if len(self._blocks) > 4:  # cases are read in order: only the blocks at hand are kept
                self._blocks.clear()
            rng = np.random.default_rng([self.seed, block])
            self._blocks[block] = rng.poisson(1.0, size=(self.resamples, POISSON_BLOCK)).astype(np.float32)
        return self._blocks[block]

    def weights(self, cases: np.ndarray) -> np.ndarray:
        units = self.labels[cases]
        out = np.empty((self.resamples, len(units)), np.float32)
        for block in np.unique(units // POISSON_BLOCK):
            inside = units // POISSON_BLOCK == block
            out[:, inside] = self._block(int(block))[:, units[inside] % POISSON_BLOCK]
        return out


MULTINOMIAL_CELLS = 1 << 24  # resamples × units up to which the multinomial bootstrap is drawn (64 MB)
POISSON_BLOCK = 4096  # units whose Poisson weights are drawn together


def resampler_for(
    cases: int, resamples: int = RESAMPLES, seed: int = SEED, clusters: Sequence[object] | None = None
) -> Resampler:
    """The multinomial bootstrap for boards of up to `MULTINOMIAL_CELLS` resampled units (the same
    resamples as `resample_counts`), the Poisson bootstrap above."""
    labels, units = units_of(cases, clusters)
    if resamples * units <= MULTINOMIAL_CELLS:
        return MultinomialResampler.draw(labels, units, resamples, seed)
    return PoissonResampler(labels, resamples, seed)


def clusters_of(subject_ids: Sequence[object]) -> Sequence[object] | None:
    """The subject labels when some subject has several cases (then the subjects are resampled)."""
    known = [s for s in subject_ids if s is not None and s == s]
    if len(known) < len(subject_ids) or len(set(known)) == len(known):
        return None
    return list(subject_ids)


def interval(value: float, samples: np.ndarray, confidence: float = CONFIDENCE) -> Estimate:
    """`value` with the percentile interval of its resampled `samples` (NaN resamples ignored)."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return Estimate(value, float("nan"), float("nan"))
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return Estimate(float(value), float(low), float(high))


def bootstrap_mean(values: np.ndarray, weights: np.ndarray) -> Estimate:
    """The mean of per-case values with its interval under the resamples `weights` (R×N)."""
    values = np.asarray(values, dtype=np.float64)
    resampled = (weights @ values) / weights.sum(axis=1)
    return interval(float(values.mean()), resampled)


def pooled_dice_curves(
    weights: np.ndarray, predicted: np.ndarray, true_positive: np.ndarray, positives: np.ndarray, epsilon: float
) -> np.ndarray:
    """R×K pooled Dice at each of K thresholds in each resample: `predicted`, `true_positive` are
    N×K per-case counts, `positives` the N lesion pixel counts (NaN rows: no lesion drawn)."""
    pooled_predicted = weights @ predicted.astype(np.float32)
    pooled_true = weights @ true_positive.astype(np.float32)
    pooled_positives = weights @ positives.astype(np.float32)
    curves = 2 * pooled_true / (pooled_predicted + pooled_positives[:, None] + epsilon)
    curves[pooled_positives == 0] = np.nan
    return curves


def paired_difference(
    value_a: float, value_b: float, samples_a: np.ndarray, samples_b: np.ndarray
) -> tuple[Estimate, float]:
    """The difference a − b with its paired-bootstrap interval and two-sided bootstrap p-value."""
    differences = samples_a - samples_b
    finite = differences[np.isfinite(differences)]
    p = min(1.0, 2 * min(np.mean(finite <= 0), np.mean(finite >= 0))) if finite.size else float("nan")
    return interval(value_a - value_b, differences), float(p)


def wilcoxon_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired per-case scores (NaN if they never differ)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    if not np.any(a[keep] != b[keep]):
        return float("nan")
    return float(scipy_stats.wilcoxon(a[keep], b[keep]).pvalue)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values (NaN stays NaN and does not count as a test)."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p, np.nan)
    tested = np.isfinite(p)
    if tested.any():
        adjusted[tested] = multipletests(p[tested], method="holm")[1]
    return adjusted
