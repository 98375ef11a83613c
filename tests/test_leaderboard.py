import re
from pathlib import Path

import numpy as np
import pytest
from conftest import fabricate_brain_run

from anobench.errors import AnobenchError
from anobench.evaluation.bootstrap import Estimate
from anobench.evaluation.cells import noise_family
from anobench.evaluation.identity import RunIdentity
from anobench.evaluation.layouts.table1 import render_table1
from anobench.evaluation.pixel_metrics import MaxDice
from anobench.evaluation.pixel_protocol import BIN_NAMES, RunMetrics
from anobench.evaluation.published import table1
from anobench.store import folder as store
from anobench.store.results import CaseResults, read_results, select_cases, write_results

NAN = float("nan")


def identity(method, settings, folder=None):
    """A run's identity as boards show it (cost and device made up)."""
    return RunIdentity(
        folder=Path(folder or f"runs/{method}-{settings.get('noise')}"),
        method=method,
        settings=settings,
        dataset="brain-phantom",
        split="test",
        data_manifest="abc",
        nfe=9,
        seconds_per_image=0.1,
        latency_batch=(0.1, 0.2),
        latency_one=(0.3, 0.4),
        batch_size=8,
        images_per_second=10.0,
        peak_memory_mb=500.0,
        device="cpu",
        seed=0,
    )


def run_metrics(method, noise, dice):
    """Metrics of a one-case run, without resamples (intervals unknown)."""
    keys = [*(f"dice {name}" for name in [*BIN_NAMES, "all"]), "auprc"]
    return RunMetrics(
        dice={name: MaxDice(dice, 0.5) for name in [*BIN_NAMES, "all"]},
        cases_per_bin={name: 1 for name in [*BIN_NAMES, "all"]},
        auprc=0.5,
        intervals={key: Estimate(0.5 if key == "auprc" else dice, NAN, NAN) for key in keys},
        resampled={key: np.full(4, NAN) for key in keys},
        case_dice=np.array([dice]),
        calibrated=None,
        run=identity(method, {"noise": noise}),
        case_ids=("a",),
        bootstrap_unit="cases",
    )


def test_published_table1_is_the_papers():
    published = table1().set_index(["noise", "method"])
    assert len(published) == 6
    assert published.loc[("gaussian", "THOR"), "dice_average"] == 20.41
    assert published.loc[("simplex", "pDDPM"), "dice_small"] == 8.02


def test_table1_puts_each_run_beside_the_papers_row_in_the_papers_order():
    metrics = [
        run_metrics("pddpm", "simplex-2d", 0.4),
        run_metrics("ddpm", "gaussian", 0.1),
        run_metrics("thor", "gaussian", 0.3),
    ]
    board = render_table1(metrics, "anobench compare")
    rows = [line for line in board.splitlines() if line.startswith("| gaussian") or line.startswith("| simplex")]
    labels = [[cell.strip() for cell in row.split("|")[1:4]] for row in rows]
    assert labels == [
        ["gaussian", "thor", "anobench, brain-phantom"],
        ["gaussian", "THOR", "reported (real ATLAS)"],
        ["gaussian", "ddpm", "anobench, brain-phantom"],
        ["gaussian", "DDPM", "reported (real ATLAS)"],
        ["simplex", "pddpm", "anobench, brain-phantom"],
        ["simplex", "pDDPM", "reported (real ATLAS)"],
    ]
    assert "| 22.28 " in rows[-1] and "| 40.00 " in rows[-2]
    assert "MICCAI 2024" in board


def test_simplex_variants_share_the_papers_simplex_group():
    assert {noise_family(n) for n in ("simplex", "simplex-normalised", "simplex-2d")} == {"simplex"}
    assert noise_family("gaussian") == "gaussian"


def test_labels_tell_variants_apart():
    from anobench.evaluation.cells import method_label

    plain = identity("pddpm", {"noise": "simplex-2d"})
    post = identity("pddpm", {"stitching": "avg", "postprocess": True})
    quiet = identity("pddpm", {"stitching": "truncate", "postprocess": False})
    assert method_label(plain) == "pddpm"
    assert method_label(post) == "pddpm (avg, postprocess)" and method_label(quiet) == "pddpm (truncate)"
    own = identity("third-party", {"variant": "no clip", "stride": 10})
    assert method_label(own) == "third-party (no clip)" and method_label(identity("ldm", {"variant": ""})) == "ldm"


def test_metrics_carry_intervals_a_calibrated_dice_and_paired_comparisons(tmp_path):
    from anobench.evaluation.layouts.full import render_markdown
    from anobench.evaluation.pixel_protocol import evaluate_run

    fabricate_brain_run(tmp_path / "good", "good", 1.0)
    fabricate_brain_run(tmp_path / "bad", "bad", 0.2, healthy=False)
    good, bad = evaluate_run(tmp_path / "good"), evaluate_run(tmp_path / "bad")
    for m in (good, bad):
        for key in ("dice medium", "dice all", "auprc"):  # every lesion here is medium
            assert m.intervals[key].low <= m.intervals[key].value <= m.intervals[key].high, key
        assert np.isnan(m.intervals["dice small"].value)
    assert good.bootstrap_unit == "cases" and bad.calibrated is None
    # healthy values are U(0, 0.4): exactly 5 % of the 6144 healthy pixels lie above the exact τ (≈ 0.38)
    assert 0.37 < good.calibrated.threshold < 0.39
    assert good.calibrated.healthy_fpr == pytest.approx(np.floor(0.05 * 6 * 32 * 32) / (6 * 32 * 32))
    assert evaluate_run(tmp_path / "good", thresholds="grid").calibrated.threshold == pytest.approx(0.38)  # the grid's
    assert good.calibrated.dice.value <= good.dice["all"].dice
    board = render_markdown([good, bad], "anobench compare")
    assert "## Paired comparisons" in board and "| good " in board and re.search(r"\(τ 0\.3[789]\d*, healthy ", board)
    assert "best" in board and "yes" in board  # 1.0 vs 0.2 on every case: significant
    assert "(calibrated Dice)" not in board  # "bad" scored no healthy split
    fabricate_brain_run(tmp_path / "mid", "mid", 0.5)
    both = render_markdown([good, evaluate_run(tmp_path / "mid")], "anobench compare")
    assert "## Paired comparisons (calibrated Dice)" in both


def test_several_slices_per_subject_resample_subjects(tmp_path):
    from anobench.evaluation.pixel_protocol import evaluate_run

    fabricate_brain_run(tmp_path, "m", 0.5, subjects=[f"s{i // 3}" for i in range(12)])
    assert evaluate_run(tmp_path).bootstrap_unit == "subjects"


def test_runs_that_would_read_alike_are_told_apart_by_noise_then_settings():
    from anobench.evaluation.cells import distinct_labels

    gaussian, simplex = identity("thor", {"noise": "gaussian"}), identity("thor", {"noise": "simplex"})
    ddpm = identity("ddpm", {"noise": "gaussian"})
    assert distinct_labels([gaussian, simplex, ddpm]) == ["thor [gaussian]", "thor [simplex]", "ddpm"]
    twin = identity("thor", {"noise": "gaussian"}, folder="runs/other")
    assert distinct_labels([gaussian, twin]) == ["thor [thor-gaussian]", "thor [other]"]  # only what differs


def test_runs_on_different_cases_share_a_board_only_on_their_common_cases(tmp_path):
    from anobench.evaluation.boards import compare

    fabricate_brain_run(tmp_path / "full", "full", 1.0)
    fabricate_brain_run(tmp_path / "limited", "limited", 0.5)
    limited = read_results(tmp_path / "limited")
    write_results(tmp_path / "limited", select_cases(limited, ["c3", "c0", "c1", "c2"]))
    store.seal(tmp_path / "limited")  # the edited run, published again
    with pytest.warns(UserWarning, match="^the runs did not score the same cases.*only the 4 cases common to all"):
        path, metrics = compare([str(tmp_path / "full"), str(tmp_path / "limited")], "uneven", tmp_path / "boards")
    assert all(m.case_ids == ("c0", "c1", "c2", "c3") for m in metrics)  # the first run's order
    text = path.read_text()
    assert "**Warning: the runs did not score the same cases.**" in text and f"`{tmp_path / 'full'}` 8" in text
    assert "## Paired comparisons" in text  # paired on the common cases
    with pytest.raises(AnobenchError, match="already exists; pass --overwrite"):
        compare([str(tmp_path / "full")], "uneven", tmp_path / "boards")
    path, _ = compare([str(tmp_path / "full")], "uneven", tmp_path / "boards", overwrite=True)
    assert "Cases: every run scored the same 12 cases." in path.read_text()


def test_the_calibrated_cell_says_which_healthy_rate_its_threshold_reached(tmp_path):
    from anobench.evaluation.cells import calibration_text
    from anobench.evaluation.pixel_protocol import evaluate_run

    assert calibration_text(0.38, 0.049, 0.05) == "τ 0.38, healthy 4.9 %"
    assert calibration_text(2.44e-6, 0.05, 0.05) == "τ 2.44e-06, healthy 5.0 %"  # maps on a small scale
    assert calibration_text(1.0, 0.31, 0.05).endswith("above the 5 % target, no τ reaches it")
    fabricate_brain_run(tmp_path, "bright", 1.0)
    healthy = read_results(tmp_path / store.HEALTHY)
    write_results(tmp_path / store.HEALTHY, CaseResults(healthy.rows, healthy.maps + 2.0, None, None))
    store.seal(tmp_path)  # the edited run, published again
    calibrated = evaluate_run(tmp_path, thresholds="grid").calibrated
    assert calibrated.threshold == 1.0 and calibrated.healthy_fpr == 1.0  # no τ of the grid reaches 5 %
    exact = evaluate_run(tmp_path).calibrated  # every map value is a candidate: 5 % is reached
    assert exact.threshold > 2.0 and 0.049 < exact.healthy_fpr <= 0.05


def test_a_board_is_the_same_file_byte_for_byte_from_the_same_runs(tmp_path):
    from anobench.evaluation.boards import compare

    fabricate_brain_run(tmp_path / "a", "a", 1.0)
    fabricate_brain_run(tmp_path / "b", "b", 0.5)
    first, _ = compare([str(tmp_path / "a"), str(tmp_path / "b")], "x", tmp_path / "one")
    second, _ = compare([str(tmp_path / "a"), str(tmp_path / "b")], "x", tmp_path / "two")
    assert first.read_bytes() == second.read_bytes()


def test_runs_of_two_data_sets_are_refused_by_naming_them(tmp_path):
    from anobench.evaluation.boards import compare

    fabricate_brain_run(tmp_path / "brain", "brain", 1.0)
    fabricate_brain_run(tmp_path / "other", "other", 1.0)
    other = read_results(tmp_path / "other")
    other.rows["case_id"] = [f"x{i}" for i in range(len(other.rows))]
    write_results(tmp_path / "other", other)
    config = store.read_json(tmp_path / "other" / store.CONFIG)
    store.write_json(tmp_path / "other" / store.CONFIG, {**config, "dataset": "wrist-phantom"})
    store.seal(tmp_path / "other")
    with pytest.raises(AnobenchError, match=r"different data sets \(brain-phantom, wrist-phantom\)"):
        compare([str(tmp_path / "brain"), str(tmp_path / "other")], "mixed", tmp_path / "boards")


def test_a_folder_of_runs_is_answered_with_the_glob_that_compares_them(tmp_path):
    from anobench.evaluation.boards import compare

    fabricate_brain_run(tmp_path / "runs" / "a", "a", 1.0)
    fabricate_brain_run(tmp_path / "runs" / "b", "b", 0.5)
    parent = tmp_path / "runs"
    with pytest.raises(
        AnobenchError, match=rf"holds 2 finished run folder\(s\); compare them with `anobench compare {parent}/\*`"
    ):
        compare([str(parent)], "x", tmp_path / "boards")
    with pytest.raises(AnobenchError, match="neither a finished run folder"):
        compare([str(tmp_path / "nothing")], "x", tmp_path / "boards")
    path, metrics = compare([f"{parent}/*"], "x", tmp_path / "boards")  # the suggested glob works
    assert len(metrics) == 2 and path.is_file()
