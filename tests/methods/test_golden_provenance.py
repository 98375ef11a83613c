"""Every golden fixture of a method can be remade: its JSON names the release's full commit and the
command of the project script that ran the release's own code on the fixed inputs (issue 35)."""

import json
import re
import shlex
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("record", sorted(GOLDEN.glob("*.json")), ids=lambda path: path.stem)
def test_a_fixture_names_its_full_commit_and_the_script_that_remakes_it(record):
    described = json.loads(record.read_text())
    assert re.search(r"at commit [0-9a-f]{40}\b", described["source"]), described["source"]
    words = shlex.split(described["command"])
    script = next(word for word in words if word.endswith(".py"))
    assert script.startswith("bench/golden/") and (ROOT / script).is_file()
    assert record.stem in (ROOT / script).read_text()  # the script writes this fixture
    assert (GOLDEN / f"{record.stem}.npz").is_file()
