"""The plugin guide's example distribution (examples/anobench-example-plugin), installed by `make`,
run end to end as an outside plugin: listed, run with its healthy split, compared."""

from importlib import metadata

import pytest


def test_the_example_distribution_is_installed_like_any_outside_plugin():
    declared = {
        point.name: point.dist.metadata["Name"]
        for group in ("anobench.methods", "anobench.datasets")
        for point in metadata.entry_points(group=group)
    }
    if "example-residual" not in declared:
        pytest.fail("the example plugin is not installed: `make test` installs examples/anobench-example-plugin")
    assert declared["example-residual"] == declared["example-squares"] == "anobench-example-plugin"


def test_the_example_method_and_data_set_run_and_make_a_board(cli, tmp_path):
    listing = cli("list")
    assert "example-residual" in listing.stdout and "example-squares" in listing.stdout
    out = tmp_path / "residual"
    result = cli(
        "run",
        "--method",
        "example-residual",
        "--dataset",
        "example-squares",
        "--healthy-split",
        "auto",
        "--out",
        str(out),
        "--data",
        "cases=8",
    )
    assert result.returncode == 0, result.stderr
    board = cli("compare", str(out), "--name", "example", "--out-dir", str(tmp_path / "boards"))
    assert board.returncode == 0, board.stderr
    text = (tmp_path / "boards" / "example.md").read_text()
    assert "| example-residual " in text and "Dice calibrated" in text
    row = next(line for line in text.splitlines() if line.startswith("| example-residual "))
    assert "–" not in row.split("|")[8]  # Dice all was scored: the squares are found
    even = cli(
        "run",
        "--method",
        "example-residual",
        "--dataset",
        "example-squares",
        "--set",
        "window=4",
        "--out",
        str(tmp_path / "even"),
    )
    assert even.returncode == 2 and "window=4: must be odd" in even.stderr
