"""`anobench report` on fabricated mask runs: what index.md holds, in which order, and that every
figure it links is there (box runs: tests/test_box_leaderboard.py)."""

import re

import numpy as np
import pytest
from conftest import fabricate_brain_run
from PIL import Image

from anobench.errors import AnobenchError
from anobench.evaluation.report import panel_rows, sweep_series, write_report


def linked_pictures(index):
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", index.read_text())


def test_a_mask_report_has_the_board_comparisons_curves_and_case_panels_in_order(tmp_path):
    fabricate_brain_run(tmp_path / "good", "good", 1.0)
    fabricate_brain_run(tmp_path / "mid", "mid", 0.5)
    index = write_report([str(tmp_path / "good"), str(tmp_path / "mid")], tmp_path / "report", "anobench report")
    text = index.read_text()
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        "# Report: brain-phantom (split `test`)",
        "## Leaderboard",
        "## Paired comparisons (oracle Dice all)",
        "## Paired comparisons (calibrated Dice)",
        "## Rank stability",
        "## Precision-recall",
        "## Cases",
        "### good",
        "### mid",
    ]
    assert "Made by `anobench report` from the per-case rows and stored maps of the runs below" in text
    assert "Cases: every run scored the same 12 cases." in text
    assert text.rstrip().endswith(f"Runs: `{tmp_path / 'good'}` (cpu), `{tmp_path / 'mid'}` (cpu)")
    pictures = linked_pictures(index)
    assert pictures == ["significance.png", "ranks.png", "pr-curves.png", "cases-1-good.png", "cases-2-mid.png"]
    # the better run ranks first in (nearly) every resample
    assert re.search(r"\| good +\| 1 +\| (9\d|100) % +\| 1\.0\d +\|", text), text
    assert sorted(p.name for p in index.parent.glob("*.png")) == sorted(pictures)  # nothing drawn and left unlinked
    for picture in pictures:
        Image.open(index.parent / picture).verify()


def test_the_same_runs_give_the_same_index_byte_for_byte(tmp_path):
    fabricate_brain_run(tmp_path / "good", "good", 1.0)
    fabricate_brain_run(tmp_path / "mid", "mid", 0.5)
    targets = [str(tmp_path / "good"), str(tmp_path / "mid")]
    first = write_report(targets, tmp_path / "one", "anobench report").read_bytes()
    assert write_report(targets, tmp_path / "two", "anobench report").read_bytes() == first
    with pytest.raises(AnobenchError, match="already exists; pass --overwrite to replace it or --out"):
        write_report(targets, tmp_path / "one", "anobench report")
    (tmp_path / "one" / "cases-9-gone.png").write_bytes(b"a run no longer reported")
    assert write_report(targets, tmp_path / "one", "anobench report", overwrite=True).read_bytes() == first
    assert not (tmp_path / "one" / "cases-9-gone.png").exists()


def test_a_single_run_has_no_comparison_and_no_significance_matrix(tmp_path):
    fabricate_brain_run(tmp_path / "only", "only", 1.0)
    index = write_report([str(tmp_path / "only")], tmp_path / "report", "anobench report")
    assert "Paired comparisons" not in index.read_text()
    assert linked_pictures(index) == ["pr-curves.png", "cases-1-only.png"]


def test_runs_of_one_method_at_several_noise_levels_add_the_sweep_plot(tmp_path):
    for t0 in (100, 250, 500):
        fabricate_brain_run(tmp_path / f"t0-{t0}", "thor", t0 / 500, settings={"t0": t0, "noise": "gaussian"})
    index = write_report([str(tmp_path / "t0-*")], tmp_path / "report", "anobench report")
    assert "## Dice against the noise level" in index.read_text() and "sweep.png" in linked_pictures(index)


def test_sweep_series_needs_two_noise_levels_of_one_label():
    from test_leaderboard import run_metrics

    def at(t0, noise="gaussian"):
        m = run_metrics("thor", noise, t0 / 1000)
        return type(m)(**{**vars(m), "run": type(m.run)(**{**vars(m.run), "settings": {"noise": noise, "t0": t0}})})

    series = sweep_series([at(350), at(100), at(200, "simplex"), run_metrics("ddpm", "gaussian", 0.2)])
    assert list(series) == ["thor, gaussian, stride –"]  # simplex has one point, ddpm no T0
    assert [t0 for t0, _ in series["thor, gaussian, stride –"]] == [100, 350]
    assert series["thor, gaussian, stride –"][1][1].value == pytest.approx(0.35)


def test_panels_pick_the_best_median_and_worst_scored_case_of_each_group():
    scores = np.array([0.9, 0.1, np.nan, 0.5, 0.7, 0.3, 0.8])
    groups = np.array(["small", "small", "small", "small", "large", "large", None], dtype=object)
    picks = panel_rows(scores, groups, ["small", "medium", "large"])
    assert picks == [
        ("small best", 0),
        ("small median", 3),
        ("small worst", 1),
        ("large best", 4),
        ("large median", 5),  # of two, the lower one
        ("large worst", 5),
    ]
