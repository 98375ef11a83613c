"""The bootstrap, paired tests and Holm correction against scipy, statsmodels and sklearn."""

import numpy as np
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

from anobench.evaluation import bootstrap as stats
from anobench.evaluation.pixel_metrics import DICE_EPSILON, pooled_max_dice, stacked_counts, threshold_counts


def test_interval_of_a_mean_agrees_with_scipy_percentile_bootstrap():
    sample = np.random.default_rng(1).normal(0.3, 1.0, 200)
    ours = stats.bootstrap_mean(sample, stats.resample_counts(len(sample), resamples=10_000, seed=3))
    theirs = scipy_stats.bootstrap(
        (sample,), np.mean, n_resamples=10_000, method="percentile", confidence_level=0.95, random_state=7
    ).confidence_interval
    assert abs(ours.low - theirs.low) < 0.01 and abs(ours.high - theirs.high) < 0.01
    assert ours.value == pytest.approx(sample.mean())


def test_resamples_are_fixed_by_the_seed_and_clusters_move_together():
    weights = stats.resample_counts(6, resamples=500, seed=0, clusters=["a", "a", "b", "c", "c", "c"])
    np.testing.assert_array_equal(weights, stats.resample_counts(6, 500, 0, ["a", "a", "b", "c", "c", "c"]))
    assert (weights[:, 0] == weights[:, 1]).all() and (weights[:, 3] == weights[:, 5]).all()
    assert set(np.unique(weights[:, 2])) <= {0, 1, 2, 3}  # a subject drawn k of 3 times
    plain = stats.resample_counts(50, resamples=200, seed=0)
    assert (plain.sum(axis=1) == 50).all()


def test_clusters_only_when_a_subject_has_several_cases():
    assert stats.clusters_of(["s1", "s2", "s3"]) is None
    assert stats.clusters_of(["s1", "s1", "s2"]) == ["s1", "s1", "s2"]
    assert stats.clusters_of(["s1", None, "s1"]) is None


def test_pooled_dice_of_the_whole_sample_is_the_reported_one():
    rng = np.random.default_rng(0)
    maps, masks = rng.random((5, 8, 8)), rng.random((5, 8, 8)) > 0.7
    counts = [threshold_counts(m, g) for m, g in zip(maps, masks)]
    curves = stats.pooled_dice_curves(np.ones((1, 5), np.float32), *stacked_counts(counts), DICE_EPSILON)
    assert curves.max() == pytest.approx(pooled_max_dice(counts).dice, rel=1e-5)


def test_paired_difference_and_wilcoxon_and_holm():
    a, b = np.linspace(0, 1, 30), np.linspace(0, 1, 30) - 0.1
    estimate, p = stats.paired_difference(0.5, 0.4, a, b)
    assert estimate.value == pytest.approx(0.1) and estimate.low == pytest.approx(0.1) and p == 0.0
    x = np.random.default_rng(4).random(40)
    y = x + np.random.default_rng(5).normal(0.05, 0.1, 40)
    assert stats.wilcoxon_p(x, y) == pytest.approx(scipy_stats.wilcoxon(x, y).pvalue)
    assert np.isnan(stats.wilcoxon_p(x, x))
    p_values = [0.01, 0.04, float("nan"), 0.03]
    expected = multipletests([0.01, 0.04, 0.03], method="holm")[1]
    np.testing.assert_allclose(stats.holm(p_values)[[0, 1, 3]], expected)
    assert np.isnan(stats.holm(p_values)[2])
