"""The pixel protocol streamed over chunks: the binned search holds the exact values within its stated
bounds, the grid and the calibrated Dice are the in-memory ones, and the Poisson bootstrap hands out
the same weights wherever a case is read."""

import numpy as np
import pandas as pd
import pytest
from conftest import case_rows
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from anobench.evaluation import pixel_protocol
from anobench.evaluation.binned import (
    bin_floor,
    dice_bounds,
    fine_bins,
    key_values,
    order_keys,
    precision_bounds,
)
from anobench.evaluation.bootstrap import (
    MULTINOMIAL_CELLS,
    MultinomialResampler,
    PoissonResampler,
    resample_counts,
    resampler_for,
)
from anobench.evaluation.calibration import calibrated_threshold, streamed_threshold
from anobench.evaluation.pixel_metrics import THRESHOLDS, pooled_scores, rank_pixels
from anobench.evaluation.pixel_protocol import evaluate_run
from anobench.store import folder as store
from anobench.store.results import CaseResults, read_results, write_results
from anobench.store.rows import size_bin


def fabricate(folder, cases=48, side=64, seed=0, scale=1.0, chunk_cases=7):
    """A finished run of lesions of every size bin (and a few unscored slices), realistic maps (a
    gamma background, the lesion brighter by a varying amount), a healthy split, in small chunks."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((cases, side, side), bool)
    for case, radius in enumerate(rng.choice([0, 1, 2, 4, 7, 11], size=cases)):
        y, x = rng.integers(radius, side - radius, size=2)
        yy, xx = np.ogrid[:side, :side]
        masks[case] = (yy - y) ** 2 + (xx - x) ** 2 <= radius**2 if radius else False
    maps = rng.gamma(2.0, 0.05, size=masks.shape) + masks * rng.uniform(0.0, 0.4, size=(cases, 1, 1))
    maps = (maps * scale).astype(np.float32)
    lesion = masks.sum(axis=(1, 2))
    rows = case_rows(
        cases,
        lesion_pixels=lesion,
        size_bin=[size_bin(int(n), side, side) for n in lesion],
        score=maps.mean(axis=(1, 2)),
    )
    write_results(folder, CaseResults(rows, maps, masks, None), chunk_cases=chunk_cases)
    healthy = (rng.gamma(2.0, 0.05, size=(25, side, side)) * scale).astype(np.float32)
    write_results(folder / store.HEALTHY, CaseResults(rows.iloc[:25], healthy, None, None), chunk_cases=chunk_cases)
    store.write_json(folder / store.CONFIG, {"method": "m", "dataset": "d", "split": "test", "healthy_split": "d:val"})
    store.write_json(folder / store.PROVENANCE, {"data_manifest": "m", "device": "cpu"})
    store.seal(folder)
    return maps, masks


@pytest.mark.parametrize("scale", [1.0, 3e-6])
def test_the_binned_search_holds_the_exact_values_within_its_bounds(tmp_path, scale):
    maps, masks = fabricate(tmp_path, scale=scale)
    exact = evaluate_run(tmp_path, thresholds="exact")
    binned = evaluate_run(tmp_path, thresholds="binned")
    assert binned.thresholds == "binned" and binned.resampling == "multinomial"
    for name in [*pixel_protocol.BIN_NAMES, "all"]:
        low, high = binned.bounds[f"dice {name}"]
        assert low == binned.dice[name].dice <= exact.dice[name].dice <= high, name
        assert high - low < 2e-3, name  # fine bins leave little room at this size
        assert binned.intervals[f"dice {name}"].low == pytest.approx(exact.intervals[f"dice {name}"].low, abs=0.02)
    low, high = binned.bounds["auprc"]
    assert low <= exact.auprc <= high and low <= binned.auprc <= high
    assert binned.auprc == pytest.approx(exact.auprc, abs=1e-3)
    # the binned threshold is a real one: per-case Dice recomputed from the maps at map ≥ τ
    tau = binned.dice["all"].threshold
    scored = np.array([b is not None for b in binned_bins(tmp_path)])
    above = maps >= np.float32(tau)
    true = (above & masks).sum(axis=(1, 2))
    dice = 2 * true / (above.sum(axis=(1, 2)) + masks.sum(axis=(1, 2)) + 1e-6)
    assert np.allclose(binned.case_dice[scored], dice[scored]) and np.isnan(binned.case_dice[~scored]).all()
    # the calibrated Dice is exact in both: the same τ, value and resamples
    assert binned.calibrated.threshold == exact.calibrated.threshold
    assert binned.calibrated.healthy_fpr == exact.calibrated.healthy_fpr
    assert binned.calibrated.dice.value == pytest.approx(exact.calibrated.dice.value, abs=1e-12)
    assert np.allclose(binned.calibrated.samples, exact.calibrated.samples, rtol=0, atol=1e-12)
    assert np.allclose(binned.calibrated.case_dice, exact.calibrated.case_dice, equal_nan=True)


def binned_bins(folder):
    return [b if isinstance(b, str) else None for b in pd.read_parquet(folder / "cases.parquet")["size_bin"]]


def test_the_streamed_grid_is_the_in_memory_grid(tmp_path, monkeypatch):
    fabricate(tmp_path)
    in_memory = evaluate_run(tmp_path, thresholds="grid")
    monkeypatch.setattr(pixel_protocol, "EXACT_PIXELS", 0)  # as if the run did not fit: streamed
    streamed = evaluate_run(tmp_path, thresholds="grid")
    for name in [*pixel_protocol.BIN_NAMES, "all"]:
        assert streamed.dice[name] == in_memory.dice[name]
        assert np.allclose(streamed.resampled[f"dice {name}"], in_memory.resampled[f"dice {name}"], rtol=1e-5)
    assert np.allclose(streamed.case_dice, in_memory.case_dice, equal_nan=True)
    assert streamed.calibrated.threshold == in_memory.calibrated.threshold
    assert np.allclose(streamed.calibrated.samples, in_memory.calibrated.samples, rtol=0, atol=1e-12)
    assert pixel_protocol.resolve_thresholds([tmp_path], "auto") == "binned"
    with pytest.raises(Exception, match="use --thresholds binned"):
        pixel_protocol.resolve_thresholds([tmp_path], "exact")


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float32, (3, 40), elements=st.floats(-2, 2, width=32)),
    arrays(bool, (3, 40)),
    st.sampled_from([1.0, 1e-6, 1e4]),
    st.booleans(),
)
def test_bounds_hold_the_exact_maximum_and_precision_for_any_maps(values, masks, scale, quantised):
    values = (np.round(values * 4) / 4 if quantised else values) * np.float32(scale)
    if not masks.any():
        return
    fine = fine_bins(values)
    lesion = np.bincount(fine[masks], minlength=1 << 20)
    everything = np.bincount(fine.ravel(), minlength=1 << 20)
    exact = pooled_scores(rank_pixels(values, masks), np.ones(len(values), bool))
    best = dice_bounds(lesion, everything)
    assert best.dice <= exact.dice[0] + 1e-12 and exact.dice[0] <= best.upper + 1e-12
    tied, low, high = precision_bounds(lesion, everything)
    assert low - 1e-9 <= exact.average_precision[0] <= high + 1e-9 and low - 1e-9 <= tied <= high + 1e-9


@given(arrays(np.float32, 50, elements=st.floats(width=32, allow_nan=False, allow_infinity=False)))
def test_order_keys_keep_the_order_and_bin_floors_are_exact_thresholds(values):
    keys = order_keys(values)
    order = np.argsort(values, kind="stable")
    assert np.all(np.diff(keys[order].astype(np.int64)) >= 0)
    assert np.array_equal(key_values(keys), values + np.float32(0))  # −0.0 read as +0.0
    bins = fine_bins(values)
    for b in np.unique(bins):
        assert np.array_equal(values >= bin_floor(b), bins >= b)


def test_streamed_calibration_is_the_in_memory_one():
    rng = np.random.default_rng(1)
    for trial in range(5):
        maps = (rng.gamma(2, 0.05, size=(7, 16, 16)) * 10.0 ** -rng.integers(0, 7)).astype(np.float32)
        maps[:, :3] = 0.0 if trial == 2 else maps[:, :3]
        maps = np.round(maps * 50) / 50 if trial == 3 else maps

        def in_chunks(maps=maps):
            return (maps[i : i + 3] for i in range(0, 7, 3))

        for candidates in (None, THRESHOLDS, np.linspace(0, 1, 1000, endpoint=False)):
            assert streamed_threshold(in_chunks, 0.05, candidates) == calibrated_threshold(maps, 0.05, candidates)


def test_the_poisson_bootstrap_gives_a_case_its_weights_wherever_it_is_read():
    labels = np.arange(10_000) // 3  # clusters of three cases
    resampler = PoissonResampler(labels, 200, seed=5)
    everything = resampler.weights(np.arange(len(labels)))
    shuffled = np.random.default_rng(0).permutation(len(labels))
    assert np.array_equal(PoissonResampler(labels, 200, seed=5).weights(shuffled), everything[:, shuffled])
    assert np.array_equal(everything[:, 0], everything[:, 2])  # a cluster shares its weight
    assert abs(everything.mean() - 1.0) < 0.01 and abs(everything.var() - 1.0) < 0.02  # Poisson(1)
    assert not np.array_equal(everything, PoissonResampler(labels, 200, seed=6).weights(np.arange(len(labels))))
    small = resampler_for(100, 1000, 0)
    assert isinstance(small, MultinomialResampler)
    assert np.array_equal(small.weights(np.arange(100)), resample_counts(100, 1000, 0))  # the boards' resamples
    assert isinstance(resampler_for(MULTINOMIAL_CELLS // 1000 + 1, 1000, 0), PoissonResampler)


def test_poisson_and_multinomial_intervals_agree_on_a_large_board():
    rng = np.random.default_rng(3)
    values = rng.gamma(2.0, 1.0, size=20_000)
    for resampler in (
        MultinomialResampler.draw(np.arange(20_000), 20_000, 400, 0),
        PoissonResampler(np.arange(20_000), 400, 0),
    ):
        weights = resampler.weights(np.arange(20_000)).astype(np.float64)
        means = weights @ values / weights.sum(axis=1)
        assert np.percentile(means, 2.5) == pytest.approx(values.mean() - 1.96 * values.std() / 20_000**0.5, abs=0.004)


def test_per_subject_tables_come_out_of_the_pass_alike_in_memory_and_in_chunks(tmp_path, monkeypatch):
    from anobench.evaluation.subjects import subject_table

    fabricate(tmp_path)
    rows = pd.read_parquet(tmp_path / "cases.parquet").assign(subject_id=lambda r: [f"s{i // 4}" for i in r["index"]])
    rows.to_parquet(tmp_path / "cases.parquet", index=False)
    store.seal(tmp_path)  # twelve subjects of four slices
    in_memory = evaluate_run(tmp_path, thresholds="grid")
    monkeypatch.setattr(pixel_protocol, "EXACT_PIXELS", 0)
    streamed = evaluate_run(tmp_path, thresholds="grid")
    assert in_memory.bootstrap_unit == streamed.bootstrap_unit == "subjects"
    a, b = subject_table(in_memory), subject_table(streamed)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert len(a) <= 12 and (a["cases"] <= 4).all() and a["lesion"].sum() == in_memory.case_counts["lesion"].sum()
    maps, masks = read_results(tmp_path).maps, read_results(tmp_path).masks
    s0 = [i for i in range(4) if np.isfinite(in_memory.case_dice[i])]  # subject s0's scored slices, pooled by hand
    above = maps[s0] > in_memory.calibrated.threshold
    expected = 2 * (above & masks[s0]).sum() / (above.sum() + masks[s0].sum() + 1e-6)
    assert a.loc["s0", "dice calibrated"] == pytest.approx(expected)
