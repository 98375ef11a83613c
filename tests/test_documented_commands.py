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


def test_the_plugin_guides_commands_run_as_printed(tmp_path):
    """The guide's example plugin is installed by `make` (tests/test_example_plugin.py checks it)."""
    commands = printed_commands(ROOT / "docs" / "plugins.md", "pip install")
    assert [command.split()[1] for command in commands] == ["list", "run", "compare"]
    run_as_printed(commands, tmp_path)
    assert (tmp_path / "leaderboards" / "example.md").is_file()
