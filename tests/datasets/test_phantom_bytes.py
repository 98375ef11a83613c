"""The embedded phantoms are the same bytes on every machine (issue 33): generated afresh here, each
default phantom's data manifest equals the one written down in `tests/phantom_manifests.py` (which
the shipped checkpoints, tests/test_shipped_checkpoints.py, and the committed boards were made
from), also when the calling process has numpy's AVX-512 kernels switched off, as they are on
machines without AVX-512 (`anobench/datasets/generated.py` generates on the baseline kernels)."""

import os
import subprocess
import sys

import pytest
from phantom_manifests import PUBLISHED

pytestmark = pytest.mark.slow  # each default phantom takes 7–30 s to generate

AVX512_OFF = "X86_V4 AVX512_ICL"  # the setting under which an AVX-512 machine made what others make
MANIFEST_OF = """
import sys
from anobench import registry
from anobench.api import DatasetContext, manifest_hash
print(manifest_hash(registry.datasets.get(sys.argv[1]).open({}, DatasetContext(64))))
"""


def _dispatched() -> set[str]:
    from numpy._core._multiarray_umath import __cpu_dispatch__

    return set(__cpu_dispatch__)


@pytest.mark.parametrize(
    ("name", "restricted"),
    [
        ("brain-phantom", False),
        ("brain-phantom", True),
        ("brain-phantom-volumes", False),
        ("brain-phantom-volumes", True),
        ("wrist-phantom", False),
        ("brain-phantom-t2", False),
    ],
)
def test_a_phantom_generated_here_is_the_published_one(tmp_path, name, restricted):
    environment = {**os.environ, "ANOBENCH_CACHE": str(tmp_path)}
    if restricted:
        if not set(AVX512_OFF.split()) <= _dispatched():
            pytest.skip(f"this numpy build dispatches none of {AVX512_OFF}: nothing to switch off")
        environment["NPY_DISABLE_CPU_FEATURES"] = AVX512_OFF
    done = subprocess.run(
        [sys.executable, "-c", MANIFEST_OF, name], env=environment, capture_output=True, text=True, check=True
    )
    assert done.stdout.split()[-1] == PUBLISHED[name]
