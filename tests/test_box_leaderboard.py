"""The Table-2 board from run folders: boxes and a healthy split scored with the run."""

import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import case_rows

from anobench.evaluation.box_protocol import evaluate_box_run
from anobench.evaluation.layouts.table2 import render_table2
from anobench.store import folder as store
from anobench.store.results import CaseResults, read_results, write_results
from anobench.store.rows import BOX_COLUMNS, BOXES, write_boxes


def fabricate_run(folder, method="thor", seed=0):
    """Two test images, one found fracture and one missed metal box; healthy maps of low values."""
    maps = np.zeros((2, 16, 16), np.float32)
    maps[0, 2:6, 2:6] = 0.9  # covers the fracture box
    maps[1, 12:14, 12:14] = 0.9  # away from the metal box: a false-positive region
    rows = pd.DataFrame(
        {
            "index": [0, 1],
            "case_id": ["a", "b"],
            "subject_id": ["p", "q"],
            "lesion_pixels": [0, 0],
            "size_bin": [None, None],
            "score": [0.1, 0.1],
            "nfe": [36, 36],
            "seconds": [0.5, 0.5],
            "batch_size": [2, 2],
        }
    )
    write_results(folder, CaseResults(rows, maps, None, None))
    healthy = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32) * 0.5
    healthy_rows = pd.concat([rows, rows.iloc[:1]], ignore_index=True).assign(case_id=["h0", "h1", "h2"])
    write_results(folder / store.HEALTHY, CaseResults(healthy_rows, healthy, None, None))
    boxes = pd.DataFrame([[0, "a", "fracture", 2, 2, 6, 6], [1, "b", "metal", 2, 2, 6, 6]], columns=BOX_COLUMNS)
    write_boxes(folder / BOXES, boxes)
    store.write_json(
        folder / store.CONFIG,
        {"method": method, "method_settings": {}, "dataset": "wrist-phantom", "split": "test", "seed": seed},
    )
    store.write_json(folder / store.PROVENANCE, {"data_manifest": "m", "device": "cpu"})
    store.seal(folder)


def test_box_run_takes_its_threshold_from_the_healthy_split_and_scores_every_class(tmp_path):
    fabricate_run(tmp_path)
    metrics = evaluate_box_run(tmp_path)
    assert 0.45 <= metrics.threshold < 0.5 and metrics.healthy_fpr <= 0.05  # healthy values are U(0, 0.5)
    assert metrics.per_class.loc["fracture", "recall"] == 1 and metrics.per_class.loc["metal", "recall"] == 0
    assert metrics.recall_at_fp[0.5].value == 0.5 and metrics.recall_at_fp[1.0].value == 0.5
    # two images: a resample holds the found fracture twice (1), the missed metal twice (0) or both (0.5)
    assert (metrics.recall_at_fp[1.0].low, metrics.recall_at_fp[1.0].high) == (0.0, 1.0)
    fracture = metrics.class_intervals[("fracture", "f1")]
    assert fracture.low == fracture.value == fracture.high == pytest.approx(1.0)  # found, no false positive, always
    board = render_table2([metrics], "anobench compare")
    assert "| thor " in board and "reported (real GRAZPEDWRI-DX)" in board and "75.39 / 16.46" in board
    assert "100.00 [100.0, 100.0] / 100.00 [100.0, 100.0]" in board and "1000 resamples of the test images" in board


def test_board_asks_for_the_healthy_split(tmp_path):
    from anobench.errors import AnobenchError

    fabricate_run(tmp_path)
    shutil.rmtree(tmp_path / store.HEALTHY)
    store.seal(tmp_path)
    with pytest.raises(AnobenchError, match="--healthy-split auto"):
        evaluate_box_run(tmp_path)


def test_a_negative_region_given_with_the_data_decides_what_counts_against_a_box(tmp_path):
    fabricate_run(tmp_path)
    results = read_results(tmp_path)
    results.maps[0, 10:16, 10:16] = 0.9  # outside the fracture box, 2.25× its mass
    write_results(tmp_path, results)
    store.seal(tmp_path)  # the edited run, published again
    assert evaluate_box_run(tmp_path).per_class.loc["fracture", "f1"] < 0.5  # two false positives

    negative = np.ones((2, 16, 16), bool)
    negative[0, 2:6, 2:6] = negative[0, 10:16, 10:16] = False  # the hot corner is not negative region here
    results.negative_regions = negative
    write_results(tmp_path, results)
    store.seal(tmp_path)  # the edited run, published again
    assert evaluate_box_run(tmp_path).per_class.loc["fracture", "f1"] > 0.99


def test_box_board_compares_runs_on_the_same_images(tmp_path):
    fabricate_run(tmp_path / "a", "thor")
    fabricate_run(tmp_path / "b", "ddpm")
    first, second = evaluate_box_run(tmp_path / "a"), evaluate_box_run(tmp_path / "b")
    assert first.intervals["f1 mean"].value == pytest.approx(0.5)  # fracture 1, metal 0
    board = render_table2([first, second], "anobench compare")
    line = next(line for line in board.splitlines() if line.startswith("| thor ") and "+0.00" in line)
    assert "| no " in line  # identical maps: no difference, not significant


def test_runs_differing_only_in_their_seed_make_one_row_with_the_spread_of_f1(tmp_path):
    from anobench.evaluation.boards import compare

    fabricate_run(tmp_path / "seed-0", seed=0)
    fabricate_run(tmp_path / "seed-1", seed=1)
    results = read_results(tmp_path / "seed-1")
    results.maps[1, 2:6, 2:6] = 0.9  # this seed finds the metal box too: F1 mean 1 instead of 0.5
    write_results(tmp_path / "seed-1", results)
    store.seal(tmp_path / "seed-1")  # the edited run, published again
    path, metrics = compare([str(tmp_path / "seed-*")], "seeds", tmp_path / "boards", layout="table2")
    assert len(metrics) == 1 and metrics[0].run.seed == 0 and metrics[0].seed_values == pytest.approx((0.5, 1.0))
    row = next(line for line in path.read_text().splitlines() if line.startswith("| thor "))
    assert row.rstrip(" |").endswith("75.00 ± 35.36 (n=2, 50.0–100.0)")
    assert "F1 mean over seeds: mean ± sd" in path.read_text()


def test_a_report_of_box_runs_has_the_board_comparisons_froc_and_case_panels(tmp_path):
    from PIL import Image

    from anobench.errors import AnobenchError
    from anobench.evaluation.report import write_report

    fabricate_run(tmp_path / "thor", "thor")
    fabricate_run(tmp_path / "ddpm", "ddpm")
    index = write_report([str(tmp_path / "thor"), str(tmp_path / "ddpm")], tmp_path / "report", "anobench report")
    text = index.read_text()
    for section in (
        "## Leaderboard",
        "## Paired comparisons (F1",
        "## Rank stability",
        "rank on F1 mean in every bootstrap resample",
        "## FROC",
        "## Cases",
        "reported (real GRAZPEDWRI-DX)",
    ):
        assert section in text
    pictures = sorted(p.name for p in (tmp_path / "report").glob("*.png"))
    assert pictures == ["cases-1-thor.png", "cases-2-ddpm.png", "froc.png", "ranks.png", "significance.png"]
    for picture in pictures:
        Image.open(tmp_path / "report" / picture).verify()

    mask_run = tmp_path / "mask-run"
    fabricate_run(mask_run)
    (mask_run / BOXES).unlink()
    store.seal(mask_run)
    with pytest.raises(AnobenchError, match="cannot share a report"):
        write_report([str(tmp_path / "thor"), str(mask_run)], tmp_path / "mixed", "anobench report")


def fabricate_many(folder, images=40, side=32, seed=0):
    """A box run of `images` images of smooth noise, each with a bright spot on or beside one or two boxes."""
    rng = np.random.default_rng(seed)
    maps = (rng.gamma(2.0, 0.05, size=(images, side, side))).astype(np.float32)
    boxes = []
    for image in range(images):
        for number in range(1 + image % 2):
            top, left = rng.integers(0, side - 8, size=2)
            boxes.append([image, f"c{image}", ["fracture", "metal"][number], top, left, top + 6, left + 6])
            spot = (top + 2, left + 2) if rng.random() < 0.6 else rng.integers(0, side - 3, size=2)
            maps[image, spot[0] : spot[0] + 3, spot[1] : spot[1] + 3] += rng.uniform(0.3, 1.0)
    rows = case_rows(images)
    write_results(folder, CaseResults(rows, maps, None, None), chunk_cases=7)
    healthy = rng.gamma(2.0, 0.05, size=(10, side, side)).astype(np.float32)
    write_results(folder / store.HEALTHY, CaseResults(rows.iloc[:10], healthy, None, None), chunk_cases=7)
    write_boxes(folder / BOXES, pd.DataFrame(boxes, columns=BOX_COLUMNS))
    store.write_json(folder / store.CONFIG, {"method": "m", "dataset": "wrist-phantom", "split": "test"})
    store.write_json(folder / store.PROVENANCE, {"data_manifest": "m", "device": "cpu"})
    store.seal(folder)


def test_a_box_run_read_in_chunks_scores_as_the_one_held_in_memory(tmp_path, monkeypatch):
    from anobench.evaluation import box_protocol

    fabricate_many(tmp_path)
    in_memory = evaluate_box_run(tmp_path)
    monkeypatch.setattr(box_protocol, "EXACT_PIXELS", 0)  # as if the run did not fit
    streamed = evaluate_box_run(tmp_path)
    assert (in_memory.froc_search, streamed.froc_search) == ("exact", "binned")
    assert streamed.threshold == in_memory.threshold and streamed.healthy_fpr == in_memory.healthy_fpr
    pd.testing.assert_frame_equal(streamed.per_class, in_memory.per_class)
    for key, estimate in in_memory.class_intervals.items():
        assert tuple(vars(streamed.class_intervals[key]).values()) == pytest.approx(tuple(vars(estimate).values()))
    np.testing.assert_allclose(streamed.case_f1, in_memory.case_f1, equal_nan=True)
    # the FROC at fine-bin floors instead of every distinct value: an approximation, close on these maps
    assert streamed.froc_thresholds < in_memory.froc_thresholds
    for k, estimate in in_memory.recall_at_fp.items():
        assert streamed.recall_at_fp[k].value == pytest.approx(estimate.value, abs=0.01), k
        assert (streamed.recall_at_fp[k].low, streamed.recall_at_fp[k].high) == pytest.approx(
            (estimate.low, estimate.high), abs=0.05
        ), k
    assert "read a chunk at a time" in render_table2([streamed], "anobench compare")


def test_the_console_table_prints_each_runs_class_f1_mean_and_threshold(tmp_path):
    from rich.console import Console

    from anobench.evaluation.layouts.table2 import print_table2

    fabricate_run(tmp_path / "a", "thor")
    metrics = evaluate_box_run(tmp_path / "a")
    console = Console(record=True, width=200)
    print_table2([metrics], console)
    lines = console.export_text().splitlines()
    header = next(line for line in lines if " mean " in line)
    for column in ("fract", "metal", "mean", "R@0.5", "R@4", "τ"):
        assert column in header.split(), header
    row = next(line for line in lines if line.lstrip().startswith("thor")).split()
    # per class F1 ×100 (fracture found, metal missed), their mean, and the healthy split's threshold
    cells = dict(zip(header.split(), row[-len(header.split()) :]))
    assert (cells["fract"], cells["metal"], cells["mean"]) == ("100.0", "0.0", "50.0")
    assert cells["τ"] == f"{metrics.threshold:.3f}"
