"""Generated data sets (the phantoms): written to a staging folder, then published at once.

The manifest lists every file's sha256 with the generator and its settings; the folder appears
under its final name only when complete, so an interrupted generation is never read.

A phantom is generated in a child process whose numpy runs only its baseline kernels (every
dispatched CPU target disabled: `NPY_DISABLE_CPU_FEATURES`), with OpenBLAS's and torch's generic
kernels too. numpy's AVX-512 float32 kernels round a few values differently from its baseline
ones, which moved single 8-bit pixels of the brain phantoms (20 of 1,125 files) between an AVX-512
machine and any other; with the baseline kernels every x86-64 machine writes the same bytes, the
ones the shipped checkpoints and boards were made from (tested against their recorded manifests).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.progress import Progress

from anobench.errors import AnobenchError
from anobench.hashing import sha256_file
from anobench.progress import clock


def baseline_kernels_environment() -> dict[str, str]:
    """This process's environment with numpy's dispatched kernels, OpenBLAS's and torch's CPU-specific
    ones switched off (numpy's list is the build's own, so every name in it is accepted)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__  # type: ignore[import-not-found]
    except ImportError:  # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_dispatch__  # type: ignore[no-redef]

    return {
        **os.environ,
        "NPY_DISABLE_CPU_FEATURES": " ".join(__cpu_dispatch__),
        "OPENBLAS_CORETYPE": "Prescott",
        "ATEN_CPU_CAPABILITY": "default",
    }


def _named(target: Any) -> str:
    return f"{target.__module__}:{target.__qualname__}"


def _imported(name: str) -> Any:
    module_name, attribute = name.split(":")
    return getattr(importlib.import_module(module_name), attribute)


def ensure_generated(root: Path, generate: Callable[[Any, Path], Any], config: Any) -> Path:
    """A generated data set's folder, generated first if it is not complete: `generate(config, root)`
    (a module-level function and a dataclass of plain fields) runs in a child process on the
    baseline kernels, so the files are the same on every machine."""
    if not (root / "manifest.json").is_file():
        console = Console(stderr=True)
        named = f"{root.parent.name} {root.name}"
        note = f"generating the {named} data set (first use only) into {root}"
        console.print(note, markup=False, highlight=False, soft_wrap=True)
        started = time.perf_counter()
        root.parent.mkdir(parents=True, exist_ok=True)
        settings = json.dumps(dataclasses.asdict(config))
        arguments = [_named(generate), _named(type(config)), settings, str(root)]
        done = subprocess.run([sys.executable, "-m", __name__, *arguments], env=baseline_kernels_environment())
        if done.returncode != 0 or not (root / "manifest.json").is_file():
            status = done.returncode
            raise AnobenchError(f"generating {root.name} failed (exit status {status}); see the messages above")
        done_in = clock(time.perf_counter() - started)
        console.print(f"generated {named} in {done_in}", markup=False, highlight=False, soft_wrap=True)
    return root


def staging_folder(root: Path) -> Path:
    staging = root.with_name(root.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    return staging


def publish(staging: Path, root: Path, generator: str, config: dict[str, Any]) -> Path:
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    manifest = {
        "generator": generator,
        "config": config,
        "files": {str(p.relative_to(staging)): sha256_file(p) for p in files},
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=1))
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    return root


if __name__ == "__main__":  # the child process of `ensure_generated`
    generator, config_class, settings, folder = sys.argv[1:]
    _imported(generator)(_imported(config_class)(**json.loads(settings)), Path(folder))


SPLIT_SIZES = (("train", "n_train"), ("val", "n_val"), ("test-healthy", "n_test_healthy"), ("test", "n_test"))


def generate_splits(
    root: Path, generator: str, config: Any, write_split: Callable[[Path, str, int, Progress], None]
) -> Path:
    """A 2-D phantom written split by split (`write_split(staging, split, count, progress)`, the
    counts from `config`'s `n_<split>` fields) into a staging folder, then published as `root`."""
    from anobench.config import to_plain

    staging = staging_folder(root)
    with Progress(transient=True) as progress:
        for split, field in SPLIT_SIZES:
            write_split(staging, split, getattr(config, field), progress)
    return publish(staging, root, generator, to_plain(config))
