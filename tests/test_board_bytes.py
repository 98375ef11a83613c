"""Boards are the same bytes from the same run folders on every CPU: the volume, slice and box
boards are made again with numpy's wider SIMD kernels switched off (`NPY_DISABLE_CPU_FEATURES`),
OpenBLAS on its plain SSE3 kernels (`OPENBLAS_CORETYPE=Prescott`: the bootstrap's matrix products)
and torch on its default kernels (`ATEN_CPU_CAPABILITY=default`), as an older machine would run
them, and compared byte for byte with those this machine's own kernels make."""

import os
import subprocess
import sys

from conftest import fabricate_brain_run
from numpy._core._multiarray_umath import __cpu_dispatch__
from test_box_leaderboard import fabricate_run as fabricate_box_run
from test_volume_protocol import fabricate_volume_run

PLAIN_KERNELS = {
    "NPY_DISABLE_CPU_FEATURES": " ".join(__cpu_dispatch__),  # every feature this numpy build dispatches to
    "OPENBLAS_CORETYPE": "Prescott",
    "ATEN_CPU_CAPABILITY": "default",
}
LAYOUTS = {"volume": "volumes", "full": "slices", "table2": "boxes"}
MAKE_BOARDS = """
import sys
from pathlib import Path
import anobench
root, out = Path(sys.argv[1]), Path(sys.argv[2])
for layout, runs in {layouts}.items():
    anobench.compare(sorted(str(p) for p in (root / runs).iterdir()), layout, out, layout=layout)
"""


def boards(root, out, env):
    environment = {key: value for key, value in os.environ.items() if key not in PLAIN_KERNELS} | env
    script = MAKE_BOARDS.format(layouts=LAYOUTS)
    subprocess.run([sys.executable, "-c", script, str(root), str(out)], env=environment, check=True)
    return {layout: (out / f"{layout}.md").read_bytes() for layout in LAYOUTS}


def test_boards_are_the_same_bytes_with_the_plain_kernels(tmp_path):
    for index, quality in enumerate((1.0, 0.6, 0.3)):
        fabricate_volume_run(tmp_path / "volumes" / f"v{index}", quality, seed=index)
        fabricate_brain_run(tmp_path / "slices" / f"s{index}", f"m{index}", quality)
        fabricate_box_run(tmp_path / "boxes" / f"b{index}", f"m{index}", seed=index)
    own = boards(tmp_path, tmp_path / "own", {})
    plain = boards(tmp_path, tmp_path / "plain", PLAIN_KERNELS)
    for layout in LAYOUTS:
        assert own[layout] == plain[layout] and b"[" in own[layout]  # intervals: the bootstrap ran
