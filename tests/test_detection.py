"""Detection AUROC and AP with their stratified bootstrap, every resample at once, against
scikit-learn run resample by resample on the same draws (tied scores included)."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from anobench.evaluation.bootstrap import interval, resample_counts
from anobench.evaluation.detection import detection_scores


@pytest.mark.parametrize("seed", range(4))
def test_every_resample_is_scikit_learns(seed):
    rng = np.random.default_rng(seed)
    positives = np.round(rng.random(rng.integers(2, 40)) + 0.2, 1)  # ties within and across the groups
    negatives = np.round(rng.random(rng.integers(2, 40)), 1)
    found = detection_scores(positives, negatives, resamples=150, seed=seed)
    scores, labels = np.r_[positives, negatives], np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
    drawn = np.concatenate(
        [resample_counts(len(positives), 150, seed), resample_counts(len(negatives), 150, seed + 1)], axis=1
    )
    for name, measure in (("auroc", roc_auc_score), ("ap", average_precision_score)):
        expected = interval(
            float(measure(labels, scores)), np.array([measure(labels, scores, sample_weight=w) for w in drawn])
        )
        assert found[name].value == pytest.approx(expected.value, abs=1e-12)
        assert (found[name].low, found[name].high) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_units_without_a_score_are_left_out_and_an_empty_group_gives_nothing():
    with_gap = detection_scores(np.array([0.9, np.nan, 0.8]), np.array([0.1, 0.85]), resamples=20)
    without = detection_scores(np.array([0.9, 0.8]), np.array([0.1, 0.85]), resamples=20)
    assert with_gap["auroc"].value == without["auroc"].value == 0.75
    assert np.isnan(detection_scores(np.array([0.5]), np.array([np.nan]), resamples=20)["ap"].value)
