"""Commands the documentation prints run exactly as printed, each set in a folder of its own."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def printed_commands(document: Path, block_start: str) -> list[str]:
    """The `anobench …` lines of the first bash block of `document` that starts with `block_start`."""
    block = re.search(rf"```bash\n({re.escape(block_start)}.*?)```", document.read_text(), re.S).group(1)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.startswith("anobench ")]


def run_as_printed(commands: list[str], folder: Path) -> None:
    for command in commands:
        result = subprocess.run(
            [sys.executable, "-m", "anobench.cli", *shlex.split(command)[1:]],
            cwd=folder,
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
            timeout=600,
        )
        assert result.returncode == 0, (command, result.stderr)


def test_the_readme_tour_runs_as_printed(tmp_path):
    commands = printed_commands(ROOT / "README.md", "anobench list")
    assert len(commands) == 6
    run_as_printed(commands, tmp_path)
    assert (tmp_path / "leaderboards" / "tour.md").is_file() and (tmp_path / "reports" / "tour" / "index.md").is_file()
    assert "dice all low" in (tmp_path / "leaderboards" / "tour.csv").read_text().splitlines()[0]
    assert '"paired_comparisons"' in (tmp_path / "leaderboards" / "tour.json").read_text()


def test_the_plugin_guides_commands_run_as_printed(tmp_path):
    """The guide's example plugin is installed by `make` (tests/test_example_plugin.py checks it)."""
    commands = printed_commands(ROOT / "docs" / "plugins.md", "pip install")
    assert [command.split()[1] for command in commands] == ["list", "run", "compare"]
    run_as_printed(commands, tmp_path)
    assert (tmp_path / "leaderboards" / "example.md").is_file()


def test_the_scaling_benchmark_runs_as_documented_at_a_small_size(tmp_path):
    """`bench/scaling.py` (docs/benchmarks.md#scaling) end to end on 40 cases: both measurements, the
    table, the measurements file and the figure."""
    documented = (ROOT / "docs" / "benchmarks.md").read_text()
    assert "python bench/scaling.py --cases 1000,10000,100000 --work DIR" in documented
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scaling.py"), "--cases", "40", "--work", str(tmp_path)]
        + ["--plot", str(tmp_path / "scaling.png")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\| 40 \| [\d.]+ \| \d+ \| exact \| [\d.]+ \| \d+ \| \d+ \|$", result.stdout, re.M), (
        result.stdout
    )
    assert (tmp_path / "scaling.png").stat().st_size > 10_000 and (tmp_path / "scaling.json").is_file()
