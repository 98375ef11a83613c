"""Every built-in method documents its departures from its authors' released code, next to the
golden test that pins it (issue 32: a baseline that quietly differs from its release is what a
benchmark's users distrust most)."""

import re
from pathlib import Path

import pytest

from anobench import registry

METHODS = Path(__file__).parents[2] / "anobench" / "methods"
BUILT_IN = sorted(name for name, entry in registry.methods.entries().items() if entry.distribution == "anobench")


@pytest.mark.parametrize("method", BUILT_IN)
def test_the_readme_lists_departures_from_the_release_and_names_its_golden_test(method):
    text = (METHODS / method / "README.md").read_text()
    assert "## Departures from the released code" in text
    section = text.split("## Departures from the released code", 1)[1]
    named = re.findall(r"tests/methods/[\w/.-]+\.(?:py|json)", section)
    assert named, f"{method}: the departures section names no test"
    for test in named:
        assert (METHODS.parents[1] / test).is_file(), f"{method}: {test} does not exist"
