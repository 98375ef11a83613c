"""Exact pooled max-Dice and AUPRC: every distinct map value, resamples computed like the value."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from anobench.evaluation.bootstrap import resample_counts
from anobench.evaluation.pixel_metrics import pooled_scores, rank_pixels
from anobench.evaluation.pixel_protocol import RESAMPLED_CUTS, pixel_scores


def brute_max_dice(values: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Dice at every distinct value as threshold (map ≥ τ): the maximum and the (highest) τ attaining it."""
    thresholds = np.unique(values)[::-1]
    dice = [2 * (labels & (values >= t)).sum() / ((values >= t).sum() + labels.sum() + 1e-6) for t in thresholds]
    return max(dice), float(thresholds[int(np.argmax(dice))])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), decimals=st.integers(1, 4))
def test_exact_search_equals_a_brute_force_sweep_over_every_value_under_any_case_weights(seed, decimals):
    rng = np.random.default_rng(seed)
    cases = int(rng.integers(1, 6))
    maps = np.round(rng.random((cases, 8, 8)), decimals).astype(np.float32)  # rounding: many ties
    masks = rng.random((cases, 8, 8)) < 0.2
    maps[masks] += np.float32(0.3) * rng.random(int(masks.sum())).astype(np.float32)
    members = rng.random(cases) < 0.7
    weights = rng.integers(0, 3, (4, int(members.sum()))).astype(float)
    ranked = rank_pixels(maps, masks)
    resampled, point = pooled_scores(ranked, members, weights), pooled_scores(ranked, members)
    chosen = np.flatnonzero(members)
    for row in range(5):
        drawn = np.repeat(chosen, weights[row].astype(int)) if row < 4 else chosen
        got = resampled if row < 4 else point
        index = row if row < 4 else 0
        if masks[drawn].sum() == 0:
            assert np.isnan(got.dice[index]) and np.isnan(got.average_precision[index])
            continue
        values, labels = maps[drawn].ravel(), masks[drawn].ravel()
        dice, threshold = brute_max_dice(values, labels)
        assert got.dice[index] == pytest.approx(dice, abs=1e-12) and got.threshold[index] == threshold
        assert got.average_precision[index] == pytest.approx(average_precision_score(labels, values), abs=1e-12)


def test_the_grid_loses_what_the_exact_search_finds_on_maps_of_a_small_range():
    """Maps within [0, 0.02]: the grid has two usable thresholds, the exact search every value."""
    rng = np.random.default_rng(0)
    masks = np.zeros((6, 16, 16), bool)
    masks[:, 4:8, 4:8] = True
    maps = (rng.random((6, 16, 16)) * 0.015 + masks * 0.005 * rng.random((6, 1, 1))).astype(np.float32)
    bins = np.array(["medium"] * 6, dtype=object)
    weights = resample_counts(6, 50, seed=0)
    exact, grid = pixel_scores(maps, masks, bins, weights), pixel_scores(maps, masks, bins, weights, "grid")
    brute, _ = brute_max_dice(maps.ravel(), masks.ravel())
    assert exact.dice["all"].dice == pytest.approx(brute, abs=1e-12)
    assert grid.dice["all"].dice < exact.dice["all"].dice - 0.05
    assert exact.auprc == grid.auprc == pytest.approx(average_precision_score(masks.ravel(), maps.ravel()))
    for scores in (exact, grid):  # each interval is the spread of the metric it belongs to
        for key in ("dice all", "auprc"):
            assert scores.intervals[key].low <= scores.intervals[key].value <= scores.intervals[key].high


def test_more_lesion_values_than_resampled_cuts_move_the_resampled_metrics_by_under_a_thousandth():
    rng = np.random.default_rng(1)
    masks = np.zeros((40, 64, 64), bool)
    for case in range(40):
        masks[case, 10 : 10 + 2 + case, 10:40] = True
    maps = (rng.random((40, 64, 64)) * 0.6 + 0.4 * masks * rng.random((40, 1, 1))).astype(np.float32)
    ranked = rank_pixels(maps, masks)
    assert len(ranked.values) > 2 * RESAMPLED_CUTS
    everyone, once = np.ones(40, bool), np.ones((1, 40))
    exact, coarse = pooled_scores(ranked, everyone, once), pooled_scores(ranked, everyone, once, RESAMPLED_CUTS)
    assert 0 <= exact.dice[0] - coarse.dice[0] < 1e-3
    assert abs(exact.average_precision[0] - coarse.average_precision[0]) < 1e-3


def test_compare_says_which_threshold_search_it_used(cli, tmp_path):
    from conftest import fabricate_brain_run
    from test_cli import assert_user_error

    fabricate_brain_run(tmp_path / "run", "m", 0.5)
    boards = tmp_path / "boards"
    for mode, phrase in (("exact", "every distinct map value τ tried"), ("grid", "the THOR paper's grid")):
        result = cli("compare", str(tmp_path / "run"), "--thresholds", mode, "--name", mode, "--out-dir", str(boards))
        assert result.returncode == 0, result.stderr
        assert phrase in (boards / f"{mode}.md").read_text()
    assert_user_error(
        cli("compare", str(tmp_path / "run"), "--thresholds", "fine", "--out-dir", str(boards)),
        "unknown threshold search 'fine'",
        "exact, grid",
    )
