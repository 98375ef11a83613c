import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from anobench.evaluation.pixel_metrics import THRESHOLDS, pooled_max_dice, threshold_counts
from anobench.store.rows import size_bin, size_bins


def brute_force_max_dice(maps: list[np.ndarray], masks: list[np.ndarray]) -> tuple[float, float]:
    """The evaluation.md formula, literally: pool pixels, try all 101 thresholds."""
    pixels = np.concatenate([m.ravel() for m in maps])
    truth = np.concatenate([g.ravel() for g in masks]).astype(float)
    best, best_tau = -1.0, None
    for tau in np.linspace(0, 1, 101):
        predicted = (pixels > tau).astype(float)
        dice = 2 * np.sum(predicted * truth) / (np.sum(predicted) + np.sum(truth) + 1e-6)
        if dice > best:
            best, best_tau = dice, tau
    return best, best_tau


map_values = st.one_of(st.floats(0, 1, width=32), st.sampled_from([0.0, 0.01, 0.5, 0.57, 1.0]))


@settings(max_examples=60, deadline=None)
@given(
    maps=st.lists(arrays(np.float32, (6, 5), elements=map_values), min_size=1, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_pooled_max_dice_equals_brute_force(maps, seed):
    rng = np.random.default_rng(seed)
    masks = [rng.random(m.shape) < 0.3 for m in maps]
    result = pooled_max_dice([threshold_counts(m, g) for m, g in zip(maps, masks)])
    expected, expected_tau = brute_force_max_dice(maps, masks)
    assert result.dice == pytest.approx(expected, abs=1e-12)
    assert result.threshold == pytest.approx(expected_tau)


def test_threshold_is_strict():
    counts = threshold_counts(np.array([0.5, 0.5]), np.array([True, False]))
    index = int(np.flatnonzero(np.isclose(THRESHOLDS, 0.5))[0])
    assert counts.predicted[index] == 0  # 0.5 > 0.5 is false
    assert counts.predicted[index - 1] == 2


def test_size_bins_scale_with_resolution():
    assert size_bins(128, 128) == (("small", 3, 71), ("medium", 71, 570), ("large", 570, 10000))
    assert size_bins(64, 64)[0] == ("small", 0.75, 17.75)
    assert size_bin(3, 128, 128) is None
    assert size_bin(4, 128, 128) == "small"
    assert size_bin(71, 128, 128) == "small"
    assert size_bin(72, 128, 128) == "medium"
    assert size_bin(571, 128, 128) == "large"
    assert size_bin(0, 64, 64) is None
    assert size_bin(1, 64, 64) == "small"
    assert size_bin(18, 64, 64) == "medium"
