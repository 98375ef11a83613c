"""What every golden script shares: the commit of the release checkout it ran, stubs for modules a
release imports but the code path never uses, and writing the arrays with the JSON that names the
repository, commit, files and functions (numbers only: the release's code stays out of anobench)."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
METHOD_GOLDEN = ROOT / "tests" / "methods" / "golden"


def commit_of(checkout: Path) -> str:
    """The full commit the checkout stands at."""
    done = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip()


def stub_module(name: str, **attributes: object) -> None:
    """An importable module holding `attributes` (for imports the golden path never uses)."""
    stub = types.ModuleType(name)
    stub.__dict__.update(attributes)
    sys.modules[name] = stub


def command_of(script: str) -> str:
    """The command that remakes a fixture: the usage line of its script's docstring."""
    usage = [line.strip() for line in (sys.modules[script].__doc__ or "").splitlines() if "bench/golden/" in line]
    return usage[-1].split("  ")[0].replace(".venv/bin/python", "python") if usage else ""  # a note after two spaces


def write(name: str, arrays: dict[str, np.ndarray], description: dict[str, object], versions: str) -> None:
    """tests/methods/golden/NAME.npz and NAME.json; the JSON adds the command that remakes them (the
    script's usage line) and `made`, the day (UTC) and `versions`."""
    METHOD_GOLDEN.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(METHOD_GOLDEN / f"{name}.npz", **arrays)
    made = f"{datetime.now(timezone.utc):%Y-%m-%d}, {versions}, CPU"
    record = {**description, "command": command_of("__main__"), "made": made}
    text = json.dumps(record, indent=2, ensure_ascii=False)
    (METHOD_GOLDEN / f"{name}.json").write_text(text + "\n")
