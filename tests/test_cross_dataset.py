"""The cross-dataset board: one column per data set by its own protocol, and a consensus rank with
its bootstrap spread (fabricated run folders)."""

import pytest
from conftest import fabricate_brain_run

from anobench.errors import AnobenchError
from anobench.evaluation.boards import compare


def fabricate(root, dataset, qualities):
    folders = []
    for method, quality in qualities.items():
        folder = root / dataset / method
        fabricate_brain_run(folder, method, quality, dataset=dataset, settings={"noise": "gaussian"})
        folders.append(str(folder))
    return folders


def test_methods_on_every_data_set_get_a_consensus_rank_the_others_a_row(tmp_path):
    first = fabricate(tmp_path, "phantom-a", {"alpha": 1.5, "beta": 0.6, "gamma": 0.3})
    second = fabricate(tmp_path, "phantom-b", {"alpha": 1.2, "beta": 0.4})
    path, columns = compare([*first, *second], out_dir=tmp_path / "boards", layout="cross")
    assert path.name == "cross-phantom-a-phantom-b.md" and [c.dataset for c in columns] == ["phantom-a", "phantom-b"]
    rows = {line.split("|")[1].strip(): line for line in path.read_text().splitlines() if line.startswith("| ")}
    assert rows["alpha"].split("|")[4].strip().startswith("1.00 [1.00, ")  # first on both: mean rank 1
    assert rows["beta"].split("|")[4].strip().startswith("2.00 [")
    assert rows["gamma"].split("|")[2].strip() != "–" and rows["gamma"].split("|")[3].strip() == "–"
    assert rows["gamma"].split("|")[4].strip() == "–"  # not on every data set: not ranked
    assert "phantom-a: Dice all [95% CI]" in path.read_text()


def test_a_cross_board_needs_several_data_sets_one_run_per_method_and_markdown(tmp_path):
    first = fabricate(tmp_path, "phantom-a", {"alpha": 1.0, "beta": 0.5})
    with pytest.raises(AnobenchError, match="runs of several data sets"):
        compare(first, out_dir=tmp_path / "boards", layout="cross")
    second = fabricate(tmp_path, "phantom-b", {"alpha": 1.0})
    twice = tmp_path / "phantom-b" / "alpha-again"
    fabricate_brain_run(twice, "alpha", 0.9, dataset="phantom-b", settings={"noise": "gaussian"})
    with pytest.raises(AnobenchError, match="two runs of alpha on phantom-b"):
        compare([*first, *second, str(twice)], out_dir=tmp_path / "boards", layout="cross")
    with pytest.raises(AnobenchError, match="Markdown only"):
        compare([*first, *second], out_dir=tmp_path / "boards", layout="cross", formats="md,csv")


def test_variants_of_one_data_set_are_columns_of_their_own(tmp_path):
    folders = []
    for pathology, quality in (("ms", 1.0), ("wmh", 0.8)):
        for method in ("alpha", "beta"):
            folder = tmp_path / pathology / method
            quality_of = quality if method == "alpha" else 0.4
            options = {"pathology": pathology}
            fabricate_brain_run(folder, method, quality_of, dataset="phantom-t2", dataset_options=options)
            folders.append(str(folder))
    path, columns = compare(folders, out_dir=tmp_path / "boards", layout="cross")
    assert [c.dataset for c in columns] == ["phantom-t2 pathology=ms", "phantom-t2 pathology=wmh"]
