"""The wheel a user installs without a clone (issue 33): the command, the embedded data's
generators, the shipped checkpoints and the method READMEs the README sends users to."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds a wheel
ROOT = Path(__file__).parent.parent


def test_the_wheel_carries_the_checkpoints_and_every_method_readme(tmp_path):
    offline = ["--no-deps", "--no-build-isolation", "-q"]  # the project's own setuptools: nothing fetched
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", *offline, "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("anobench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    methods = [path.parent.name for path in (ROOT / "anobench" / "methods").glob("*/README.md")]
    assert len(methods) >= 10
    assert {f"anobench/methods/{method}/README.md" for method in methods} <= names
    assert "anobench/checkpoints/manifest.json" in names and "anobench/datasets/generated.py" in names
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "anobench = anobench.cli:main" in text and "intensity = anobench.methods:intensity_plugin" in text
