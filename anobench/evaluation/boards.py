"""`anobench compare`: boards computed from run folders only, in a layout looked up by name.

Every number is recomputed from the per-case rows and the stored maps and masks; nothing is read
from a summary. Runs on different data (another dataset, split or data manifest) are refused:
their numbers are not comparable.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

from anobench.errors import AnobenchError
from anobench.evaluation.box_protocol import evaluate_box_run
from anobench.evaluation.cross_dataset import write_cross
from anobench.evaluation.export import board_csv, board_json, parse_formats
from anobench.evaluation.identity import evaluate_runs, find_runs, merge_seeds, same_data
from anobench.evaluation.layouts import LAYOUTS
from anobench.evaluation.pixel_protocol import AUTO, evaluate_run, resolve_thresholds
from anobench.evaluation.training_seeds import merge_training_seeds
from anobench.evaluation.volume_protocol import evaluate_volume_run
from anobench.store import folder as store

CROSS = "cross"  # the cross-dataset board (`cross_dataset`), apart from the one-data-set layouts


def compare(
    targets: list[str],
    name: str | None = None,
    out_dir: Path = Path("leaderboards"),
    command: str = "anobench compare",
    layout: str = "full",
    overwrite: bool = False,
    thresholds: str = AUTO,
    formats: str = "md",
) -> tuple[Path, list[Any]]:
    """Evaluate the runs on their common cases, write `out_dir/<name>.md` in `layout` (and the same
    board as `.csv`, `.json` when `formats` names them, e.g. "md,csv,json") and return the first file
    with the metrics. An existing board is replaced only with `overwrite`. `thresholds`: how pixel
    boards search max-Dice and the calibrated τ (exact, grid, binned, or auto: exact while the runs
    fit in memory, binned beyond)."""
    if layout == CROSS:  # several data sets, each by its own protocol
        return write_cross(targets, name, out_dir, command, overwrite, formats)
    if layout not in LAYOUTS:
        raise AnobenchError(f"unknown layout {layout!r}; available: {', '.join([*LAYOUTS, CROSS])}")
    try:
        wanted = parse_formats(formats)
    except ValueError as error:
        raise AnobenchError(f"--format: {error}") from None
    chosen = LAYOUTS[layout]
    folders = find_runs(targets)
    if not folders:
        raise AnobenchError("no runs to compare")
    evaluate: Callable[..., Any]
    if chosen.protocol == "pixel":
        evaluate = functools.partial(evaluate_run, thresholds=resolve_thresholds(folders, thresholds))
    elif chosen.protocol == "volume":
        evaluate = evaluate_volume_run
    else:
        evaluate = evaluate_box_run
    metrics, coverage = evaluate_runs(folders, evaluate)
    same_data([m.run for m in metrics])
    metrics = merge_seeds(metrics)
    if chosen.protocol == "pixel":
        metrics = merge_training_seeds(metrics)
    paths = [out_dir / f"{name or metrics[0].run.dataset}.{suffix}" for suffix in wanted]
    for path in paths:
        if path.exists() and not overwrite:
            raise AnobenchError(
                f"leaderboard {path} already exists; pass --overwrite to replace it or --name to write another"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = {
        "md": lambda: chosen.render(metrics, command, coverage),
        "csv": lambda: board_csv(metrics),
        "json": lambda: board_json(metrics, chosen.pairs(metrics), layout, command, coverage),
    }
    for path in paths:
        store.write_text(path, texts[path.suffix[1:]]())
    return paths[0], metrics
