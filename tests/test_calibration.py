"""The calibrated threshold: one rule, over every healthy value (exact) or over a grid."""

import numpy as np
import pytest

from anobench.evaluation.box_metrics import THOR_CANDIDATES
from anobench.evaluation.calibration import calibrated_threshold
from anobench.evaluation.pixel_metrics import THRESHOLDS


def test_the_grid_threshold_is_the_largest_mean_healthy_share_not_above_five_percent():
    values = np.linspace(0, 0.999, 1000)  # one image whose pixels are the candidates themselves
    maps = np.stack([values.reshape(10, 100), values.reshape(10, 100)[::-1]])
    tau, share = calibrated_threshold(maps, 0.05, THOR_CANDIDATES)
    assert share <= 0.05 and share == pytest.approx(0.05, abs=1e-3)
    assert tau == pytest.approx(0.949, abs=1e-3)  # 50 of 1000 pixels (0.950 … 0.999) lie above it


def test_a_grid_no_candidate_of_which_reaches_the_target_gives_its_largest_and_says_so():
    tau, share = calibrated_threshold(np.ones((2, 4, 4)), 0.05, THOR_CANDIDATES)
    assert tau == pytest.approx(0.999) and share == 1.0


def test_the_exact_threshold_leaves_the_largest_share_not_above_the_target():
    healthy = np.arange(1000, dtype=np.float32).reshape(10, 10, 10) / 1000
    tau, share = calibrated_threshold(healthy, 0.05)
    assert (
        tau == pytest.approx(0.949) and share == 0.05
    )  # the 50 values 0.950…0.999 lie above it; one more would not do
    assert calibrated_threshold(np.zeros((2, 4, 4), np.float32), 0.05) == (0.0, 0.0)


def test_exact_equals_the_grid_rule_with_every_value_as_a_candidate():
    rng = np.random.default_rng(0)
    healthy = np.round(rng.random((6, 16, 16)) ** 3, 3)  # ties and a heavy low end, like real maps
    assert calibrated_threshold(healthy, 0.05) == calibrated_threshold(healthy, 0.05, np.unique(healthy))
    tau, _ = calibrated_threshold(healthy, 0.05, THRESHOLDS)
    assert tau in THRESHOLDS
