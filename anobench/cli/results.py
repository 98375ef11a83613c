"""`anobench compare` and `report`: boards and reports computed from run folders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from anobench.cli.app import app, console


@app.command()
def compare(
    targets: List[str] = typer.Argument(..., help="Run folders, globs, or a dataset name."),
    name: Optional[str] = typer.Option(None, help="Leaderboard name (default: the dataset)."),
    out_dir: Path = typer.Option(Path("leaderboards"), help="Folder for the Markdown leaderboard."),
    layout: str = typer.Option(
        "full",
        help="full: every column; table1 / table2: the THOR paper's Table 1 (brain) / Table 2 (boxes) "
        "with its reported rows beside; volume: the field's per-subject protocol; cross: runs of several data "
        "sets, one column each, with a consensus rank.",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a leaderboard of the same name."),
    format_: str = typer.Option(
        "md",
        "--format",
        help="Files to write, comma-separated: md (the board), csv (one line per row: every number, each "
        "interval's low and high), json (the same with the paired comparisons), e.g. md,csv,json.",
    ),
    thresholds: str = typer.Option(
        "auto",
        help="Max-Dice and calibrated τ over every distinct map value (exact, in memory), the THOR paper's grid "
        "0, 0.01, …, 1 (grid), for comparison with its numbers, or fine bins in bounded memory with bounds on "
        "the exact values (binned); auto: exact while the runs fit in memory, binned beyond.",
    ),
) -> None:
    """Leaderboard of runs, recomputed from their per-case rows and maps (on the cases every run scored)."""
    from anobench.evaluation.boards import CROSS
    from anobench.evaluation.boards import compare as compare_runs
    from anobench.evaluation.cross_dataset import print_cross
    from anobench.evaluation.export import parse_formats
    from anobench.evaluation.layouts import LAYOUTS

    command = " ".join(["anobench", *sys.argv[1:]])
    path, metrics = compare_runs(
        targets,
        name,
        out_dir,
        command=command,
        layout=layout,
        overwrite=overwrite,
        thresholds=thresholds,
        formats=format_,
    )
    if layout == CROSS:
        print_cross(metrics, console)
        console.print(f"wrote {path}")
        return
    LAYOUTS[layout].show(metrics, console)
    written = [path.parent / f"{name or metrics[0].run.dataset}.{suffix}" for suffix in parse_formats(format_)]
    console.print("wrote " + ", ".join(str(each) for each in written))


@app.command()
def report(
    targets: List[str] = typer.Argument(..., help="Run folders, globs, or a dataset name (pixel-annotated runs)."),
    out: Path = typer.Option(..., help="Report folder, e.g. reports/phantom (index.md and PNG figures)."),
    thresholds: str = typer.Option("auto", help="exact, grid, binned or auto: as for `anobench compare`."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a report already in --out."),
) -> None:
    """Report of runs: leaderboard with intervals, significance matrix, PR curves, sweep, case panels."""
    from anobench.evaluation.report import write_report

    command = " ".join(["anobench", *sys.argv[1:]])
    console.print(f"wrote {write_report(targets, out, command, thresholds, overwrite)}")
