"""Detection: AUROC and average precision of a score, positive units against negative ones, with
the stratified bootstrap (positives and negatives resampled apart), every resample at once.

The units' scores are grouped by distinct value; a resample's weights, summed per value, give its
positive and negative mass at each value, from which both measures follow by cumulative sums:
AUROC = P(score of a positive > that of a negative) + ½ P(equal); AP = Σ_k (R_k − R_{k−1}) · P_k
over the distinct values in descending order (scikit-learn's `average_precision_score`, the step
form MONAI's `compute_average_precision` shares; tested against both). Memory: one block of
resamples × distinct values at a time.
"""

from __future__ import annotations

import numpy as np

from anobench.evaluation.bootstrap import SEED, Estimate, interval, resample_counts

BLOCK = 64  # resamples evaluated together


def _per_value(weights: np.ndarray, codes: np.ndarray, values: int) -> np.ndarray:
    """Resamples × distinct values: the weight of the units at each value (`codes`: value index per unit)."""
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sums = np.add.reduceat(weights[:, order], starts, axis=1) if len(order) else np.zeros((len(weights), 0))
    mass = np.zeros((len(weights), values))
    mass[:, sorted_codes[starts]] = sums
    return mass


def _measures(positive: np.ndarray, negative: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUROC and AP per resample from the mass at each distinct value (columns ascending)."""
    total_positive, total_negative = positive.sum(axis=1), negative.sum(axis=1)
    above = np.cumsum(positive[:, ::-1], axis=1)[:, ::-1] - positive  # positive mass strictly above each value
    with np.errstate(invalid="ignore", divide="ignore"):
        auroc = ((above + 0.5 * positive) * negative).sum(axis=1) / (total_positive * total_negative)
        true_positive = np.cumsum(positive[:, ::-1], axis=1)  # at thresholds from the highest value down
        called = true_positive + np.cumsum(negative[:, ::-1], axis=1)
        precision = np.where(called > 0, true_positive / called, 0.0)
        ap = (positive[:, ::-1] * precision).sum(axis=1) / total_positive
    return auroc, ap


def detection_scores(
    positives: np.ndarray, negatives: np.ndarray, resamples: int, seed: int = SEED
) -> dict[str, Estimate]:
    """AUROC and AP of scores, positives against negatives, each group resampled apart (stratified);
    units without a score (NaN: an empty brain mask) are left out."""
    positives, negatives = (np.asarray(v, np.float64) for v in (positives, negatives))
    positives, negatives = positives[np.isfinite(positives)], negatives[np.isfinite(negatives)]
    if not len(positives) or not len(negatives):
        nothing = Estimate(float("nan"), float("nan"), float("nan"))
        return {"auroc": nothing, "ap": nothing}
    distinct, codes = np.unique(np.concatenate([positives, negatives]), return_inverse=True)
    positive_codes, negative_codes = codes[: len(positives)], codes[len(positives) :]

    def measured(positive_weights: np.ndarray, negative_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _measures(
            _per_value(positive_weights, positive_codes, len(distinct)),
            _per_value(negative_weights, negative_codes, len(distinct)),
        )

    observed = measured(np.ones((1, len(positives))), np.ones((1, len(negatives))))
    drawn_positive = resample_counts(len(positives), resamples, seed)
    drawn_negative = resample_counts(len(negatives), resamples, seed + 1)
    samples: list[tuple[np.ndarray, np.ndarray]] = [
        measured(drawn_positive[start : start + BLOCK], drawn_negative[start : start + BLOCK])
        for start in range(0, resamples, BLOCK)
    ]
    return {
        name: interval(float(observed[index][0]), np.concatenate([block[index] for block in samples]))
        for index, name in enumerate(("auroc", "ap"))
    }
