"""The plugin guide's example distribution (examples/anobench-example-plugin), installed by `make`,
run end to end as an outside plugin: listed, run with its healthy split, compared."""

import os
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

GUIDE = Path(__file__).parent.parent / "docs" / "plugins.md"


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


def test_the_guides_commands_run_exactly_as_printed(tmp_path):
    block = re.search(r"```bash\n(.*?)```", GUIDE.read_text(), re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.startswith("anobench ")]
    assert [c.split()[1] for c in commands] == ["list", "run", "compare"]
    for command in commands:
        words = shlex.split(command)
        result = subprocess.run(
            [sys.executable, "-m", "anobench.cli", *words[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
            timeout=300,
        )
        assert result.returncode == 0, (command, result.stderr)
    assert (tmp_path / "leaderboards" / "example.md").is_file()
