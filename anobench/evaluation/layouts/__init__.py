"""Board layouts, looked up by name: each names the protocol it shows, writes the Markdown board and
prints its console summary. A new layout is a module here and one entry in `LAYOUTS`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from rich.console import Console

from anobench.evaluation.comparisons import PairComparison
from anobench.evaluation.identity import Coverage
from anobench.evaluation.layouts.full import dice_pairs, print_table, render_markdown
from anobench.evaluation.layouts.table1 import render_table1
from anobench.evaluation.layouts.table2 import box_pairs, print_table2, render_table2
from anobench.evaluation.layouts.volume import print_volume, render_volume, volume_pairs


@dataclass(frozen=True)
class Layout:
    name: str
    protocol: str  # the protocol whose metrics it shows: "pixel", "box" or "volume"
    render: Callable[[list[Any], str, Coverage | None], str]  # metrics, command → Markdown
    show: Callable[[list[Any], Console], None]  # the console summary
    pairs: Callable[[list[Any]], list[PairComparison]]  # the board's paired comparisons (as data)
    description: str


LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout(
            "full", "pixel", render_markdown, print_table, dice_pairs, "every column, interval and paired comparison"
        ),
        Layout(
            "table1",
            "pixel",
            render_table1,
            print_table,
            dice_pairs,
            "the THOR paper's Table 1, its reported rows beside",
        ),
        Layout(
            "table2",
            "box",
            render_table2,
            print_table2,
            box_pairs,
            "the THOR paper's Table 2 (boxes), its reported rows beside",
        ),
        Layout(
            "volume",
            "volume",
            render_volume,
            print_volume,
            volume_pairs,
            "the field's per-subject protocol (volumes): Dice at healthy FPR thresholds, lesion-wise, detection",
        ),
    )
}
