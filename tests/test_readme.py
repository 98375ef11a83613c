"""The README's quick tour runs exactly as printed (in a folder of its own)."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_the_readme_tour_runs_as_printed(tmp_path):
    block = re.search(r"```bash\n(anobench list.*?)```", README.read_text(), re.S).group(1)
    commands = [line.split("  #")[0].strip() for line in block.splitlines() if line.startswith("anobench ")]
    assert len(commands) == 6
    for command in commands:
        words = shlex.split(command)
        result = subprocess.run(
            [sys.executable, "-m", "anobench.cli", *words[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
            timeout=600,
        )
        assert result.returncode == 0, (command, result.stderr)
    assert (tmp_path / "leaderboards" / "tour.md").is_file() and (tmp_path / "reports" / "tour" / "index.md").is_file()
