"""The figures of reports: each writes a PNG, sized by what it shows, without touching pyplot."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from anobench.evaluation import figures
from anobench.evaluation.bootstrap import Estimate
from anobench.evaluation.comparisons import PairComparison


def size_of(path):
    with Image.open(path) as image:
        image.verify()
        return image.size


def coloured_pixels(path, colour, tolerance=40):
    """How many pixels of the PNG are near `colour` (#rrggbb): what a curve of that colour drew."""
    wanted = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.int64)
    return int((np.abs(pixels - wanted).sum(axis=-1) < tolerance).sum())


def test_drawing_never_loads_pyplot_nor_switches_the_backend(tmp_path):
    # a notebook user's choice of backend; asking for the backend before drawing would load pyplot itself
    script = """
import sys, matplotlib
from pathlib import Path
matplotlib.use("svg")
import numpy as np
from anobench.evaluation import figures
figures.pr_curves({"a": (np.array([0.1, 0.9]), np.array([0, 1]), 1.0)}, Path(sys.argv[1]))
assert "matplotlib.pyplot" not in sys.modules, "pyplot imported"
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
"""
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "pr.png")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert size_of(tmp_path / "pr.png")


def test_pr_and_froc_curves_write_one_png_each(tmp_path):
    recall = np.linspace(0, 1, 50)
    pr = figures.pr_curves(
        {"a": (recall, 1 - recall**2, 0.8), "b": (recall, 0.1 + 0 * recall, 0.1)}, tmp_path / "pr.png"
    )
    froc = figures.froc_curves(
        {"a": (np.array([0.0, 0.5, 2.0, 8.0]), np.array([0.1, 0.6, 0.4, 0.9]))}, tmp_path / "sub" / "froc.png"
    )
    assert min(size_of(pr)) > 200 and min(size_of(froc)) > 200  # the folder is made when missing
    # the curves are drawn, each in its colour (matplotlib's first two), not a blank frame
    assert coloured_pixels(pr, "#1f77b4") > 200 and coloured_pixels(pr, "#ff7f0e") > 200
    assert coloured_pixels(froc, "#1f77b4") > 100 and coloured_pixels(froc, "#ff7f0e") == 0


def test_the_significance_matrix_grows_with_the_runs_and_survives_pairs_without_differences(tmp_path):
    pair = PairComparison(0, 1, Estimate(0.05, 0.01, 0.09), 0.01, 0.02)
    two = size_of(figures.significance_matrix(["a", "b"], [pair], tmp_path / "two.png"))
    four = size_of(figures.significance_matrix(["a", "b", "c", "d"], [pair], tmp_path / "four.png"))
    empty = size_of(figures.significance_matrix(["a", "b"], [], tmp_path / "empty.png"))  # no pair on common cases
    assert four[0] > two[0] and four[1] > two[1] and min(empty) > 100


def test_case_panels_have_a_line_per_pick_and_a_column_per_array(tmp_path):
    maps = np.random.default_rng(1).random((3, 16, 16))
    masks = maps > 0.8
    ids = ["a-very-long-case-identifier-cut-in-captions", "b", "c"]
    scores = np.array([0.9, 0.5, 0.1])
    picks = [("all best", 0), ("all median", 1), ("all worst", 2)]
    full = figures.case_panels(picks, maps, maps, maps, masks, ids, scores, tmp_path / "full.png", "run")
    one_line = figures.case_panels(picks[:1], maps, maps, maps, masks, ids, scores, tmp_path / "one.png", "run")
    no_images = figures.case_panels(picks, None, None, maps, masks, ids, scores, tmp_path / "two.png", "run")
    (width, height), (_, one_height), (narrow, _) = size_of(full), size_of(one_line), size_of(no_images)
    assert height > 2 * one_height and width > 1.5 * narrow  # 3 lines against 1; 4 columns against 2


def test_case_panels_show_whole_case_ids_and_a_colour_bar_of_the_map(tmp_path):
    maps = np.random.default_rng(1).random((2, 16, 16))
    ids = ["sub-r003s012_ses-1_space-MNI152NLin2009aSym_T1w_slice-0042", "b"]
    picks = [("all best", 0), ("all worst", 1)]
    figure = figures.case_panel_figure(picks, maps, None, maps, maps > 0.8, ids, np.array([0.9, 0.1]), "run", top=0.7)
    labels = [axis.get_ylabel().split("\n") for axis in figure.axes if axis.get_ylabel().startswith("all ")]
    assert ["".join(label[1:-1]) for label in labels] == ids  # the whole id, over lines of ≤ 24 characters
    assert max(len(line) for label in labels for line in label[1:-1]) <= figures.ID_LINE and len(labels[0]) > 3
    (bar,) = [axis for axis in figure.axes if axis.get_ylabel() == "anomaly map value"]
    assert bar.get_ylim() == (0.0, 0.7)  # the maps' own scale, 0 to `top`


@pytest.mark.parametrize("text", ["a", "abc_def-ghi/jkl", "x" * 60, "sub-01_" + "y" * 30 + "_T1w", ""])
def test_wrapped_ids_join_back_to_the_id(text):
    lines = figures._wrapped(text, 8).split("\n")
    assert "".join(lines) == text and all(len(line) <= 8 for line in lines)


def test_estimate_lines_draw_intervals_on_a_log_axis_with_plain_ticks(tmp_path):
    series = {"thor": [(10, Estimate(0.5, 0.4, 0.6)), (100, Estimate(0.7, float("nan"), float("nan")))]}
    path = figures.estimate_lines(series, tmp_path / "nfe.png", "NFE", "Dice against cost", log_x=True)
    assert min(size_of(path)) > 200  # an interval unknown (NaN) is drawn without its bar
    assert coloured_pixels(path, "#1f77b4") > 50  # the line and its interval bar


def test_a_figure_without_labelled_lines_draws_no_empty_legend_and_warns_nothing(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "No artists with labels found" would fail here
        figures.estimate_lines({}, tmp_path / "empty.png", "T0", "nothing scored yet")
    Image.open(tmp_path / "empty.png").verify()


def test_the_pr_legend_sits_beside_the_curves_not_on_them(tmp_path):
    curves = {f"run {i}": (np.linspace(0, 1, 50), np.linspace(1, 0.2, 50), 0.6) for i in range(3)}
    with Image.open(figures.pr_curves(curves, tmp_path / "pr.png")) as beside:
        width, height = beside.size
    assert width > 1.3 * height  # the axes are about square; the legend adds a column to their right
