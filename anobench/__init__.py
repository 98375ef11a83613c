"""anobench: a benchmark of diffusion-model anomaly detectors for medical images.

The command line is a thin shell over these functions, so a notebook gets the same results:

    import anobench
    summary = anobench.run("ddpm", "brain-phantom")
    board, metrics = anobench.compare([str(summary.folder)])
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = metadata.version("anobench")  # pyproject.toml is the one source

if TYPE_CHECKING:
    from anobench.running.harness import RunSummary


def run(method: str, dataset: str, **options: Any) -> "RunSummary":
    """Score `dataset` with `method`; options are the fields of `anobench.running.harness.RunRequest`."""
    from anobench.running.harness import RunRequest
    from anobench.running.harness import run as run_request

    return run_request(RunRequest(method=method, dataset=dataset, **options))


def compare(
    targets: list[str], name: str | None = None, out_dir: Path = Path("leaderboards"), layout: str = "full"
) -> "tuple[Path, list[Any]]":
    """Write a leaderboard for run folders (paths, globs or a dataset name) in `layout` (full, table1,
    table2, volume); returns it and the metrics of its rows."""
    from anobench.evaluation.boards import compare as compare_runs

    return compare_runs(targets, name, out_dir, layout=layout)


def report(targets: list[str], out: Path, overwrite: bool = False) -> Path:
    """Write a report folder (index.md and figures) for run folders; returns its index.md. An existing
    report is replaced only with `overwrite`."""
    from anobench.evaluation.report import write_report

    return write_report(targets, out, f"anobench.report({targets!r}, {str(out)!r})", overwrite=overwrite)
