"""`compare --format md,csv,json`: the board's numbers and intervals as data, equal to the numbers the
Markdown board prints, for every layout; refused names and existing files said in one line."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from conftest import fabricate_brain_run
from test_box_leaderboard import fabricate_run as fabricate_box_run
from test_volume_protocol import fabricate_volume_run

from anobench.errors import AnobenchError
from anobench.evaluation.boards import compare
from anobench.evaluation.cells import with_interval


def board_row(markdown: str, label: str) -> dict[str, str]:
    table = [line.split("|")[1:-1] for line in markdown.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in table[0]]
    row = next(cells for cells in table[1:] if cells[0].strip() == label)
    return dict(zip(header, (cell.strip() for cell in row)))


def test_pixel_board_as_csv_and_json_holds_the_markdown_boards_numbers(tmp_path):
    fabricate_brain_run(tmp_path / "good", "good", 1.0)
    fabricate_brain_run(tmp_path / "weak", "weak", 0.2)
    runs = [str(tmp_path / "good"), str(tmp_path / "weak")]
    path, metrics = compare(runs, "x", tmp_path / "boards", formats="md,csv,json")
    markdown = path.read_text()
    document = json.loads((tmp_path / "boards" / "x.json").read_text())
    table = pd.read_csv(tmp_path / "boards" / "x.csv")
    assert [row["label"] for row in document["rows"]] == ["good", "weak"] == list(table["label"])
    for m, row, (_, line) in zip(metrics, document["rows"], table.iterrows()):
        shown = board_row(markdown, row["label"])
        for key in ("dice all", "dice medium", "auprc", "dice calibrated"):
            value = row["metrics"][key]
            assert (value["value"], value["low"], value["high"]) == (line[key], line[f"{key} low"], line[f"{key} high"])
            estimate = m.intervals[key]
            assert value == {"value": estimate.value, "low": estimate.low, "high": estimate.high}
        assert shown["Dice all"] == with_interval(m.intervals["dice all"])  # the same estimate the board prints
        assert row["metrics"]["threshold all"] == m.dice["all"].threshold == line["threshold all"]
        assert row["metrics"]["calibrated healthy_fpr"] == m.calibrated.healthy_fpr
        assert row["metrics"]["dice small"] == {"value": None, "low": None, "high": None}  # no small lesion: NaN
        assert np.isnan(line["dice small"]) and row["cost"]["nfe"] == 10 and row["run"] == str(m.run.folder)
    (pair,) = document["paired_comparisons"]
    assert (pair["a"], pair["b"], pair["significant"]) == ("good", "weak", True) and pair["difference"]["value"] > 0
    assert document["common_cases"] == 12 and document["layout"] == "full" and "×100" in document["scale"]


def test_every_layout_exports_and_the_same_runs_give_the_same_bytes(tmp_path):
    fabricate_box_run(tmp_path / "box-a", "thor")
    fabricate_box_run(tmp_path / "box-b", "ddpm")
    fabricate_volume_run(tmp_path / "vol-a", quality=1.0)
    fabricate_volume_run(tmp_path / "vol-b", quality=0.3, seed=1)
    for layout, prefix, key in (("table2", "box", "f1 mean"), ("volume", "vol", "raw dice 0.01")):
        runs = [str(tmp_path / f"{prefix}-a"), str(tmp_path / f"{prefix}-b")]
        compare(runs, layout, tmp_path / "one", layout=layout, formats="csv,json")
        compare(runs, layout, tmp_path / "two", layout=layout, formats="json,csv")
        for suffix in ("csv", "json"):
            assert (tmp_path / "one" / f"{layout}.{suffix}").read_bytes() == (
                tmp_path / "two" / f"{layout}.{suffix}"
            ).read_bytes()
        assert not (tmp_path / "one" / f"{layout}.md").exists()
        document = json.loads((tmp_path / "one" / f"{layout}.json").read_text())
        first = document["rows"][0]["metrics"][key]
        assert first["low"] <= first["value"] <= first["high"], (layout, first)
        table = pd.read_csv(io.StringIO((tmp_path / "one" / f"{layout}.csv").read_text()))
        assert table[key].iloc[0] == first["value"] and len(document["paired_comparisons"]) == 1
    box = json.loads((tmp_path / "one" / "table2.json").read_text())["rows"][0]["metrics"]
    assert box["fracture recall"]["value"] == 1.0 and "recall_at_fp 4" in box


def test_unknown_formats_and_existing_files_are_refused_before_anything_is_written(tmp_path):
    fabricate_brain_run(tmp_path / "a", "a", 1.0)
    with pytest.raises(AnobenchError, match=r"--format: unknown board format\(s\) xlsx; available: md, csv, json"):
        compare([str(tmp_path / "a")], "x", tmp_path / "boards", formats="md,xlsx")
    assert not (tmp_path / "boards").exists()
    compare([str(tmp_path / "a")], "x", tmp_path / "boards", formats="csv")
    with pytest.raises(AnobenchError, match=r"x\.csv already exists; pass --overwrite"):
        compare([str(tmp_path / "a")], "x", tmp_path / "boards", formats="md,csv")
    assert not (tmp_path / "boards" / "x.md").exists()
