"""Help as a user reads it: no type beside a flag, the everyday options apart from those of scale."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from anobench.cli import app

COMMANDS = [
    [],
    ["list"],
    ["run"],
    ["sweep"],
    ["merge"],
    ["compare"],
    ["report"],
    ["train"],
    ["import-checkpoint"],
    ["data"],
    ["data", "make"],
    ["data", "verify"],
    ["prepare"],
    ["prepare", "ixi"],
]


@pytest.mark.parametrize("words", COMMANDS, ids=lambda words: " ".join(words) or "anobench")
def test_help_shows_no_bool_beside_flags(words):
    result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output and "--help" in result.output
    assert not re.search(r"--no-(overwrite|compile|keep-skull)", result.output)


def test_run_help_puts_scale_options_in_their_own_panel():
    output = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "160"}).output
    everyday, scale = output.split("Scale, devices and timing")
    for option in ("--method", "--dataset", "--config", "--set", "--healthy-split", "--out", "--overwrite"):
        assert option in everyday and option not in scale
    for option in ("--batch-size", "--device", "--rank", "--world-size", "--precision", "--compile", "--latency-cases"):
        assert option in scale and option not in everyday
    assert re.search(r"--set\s+KEY=VALUE", everyday)
