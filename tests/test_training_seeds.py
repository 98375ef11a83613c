"""Runs of denoisers trained with different seeds merged into one board row whose interval covers
the seed spread (fabricated run folders, no model)."""

import numpy as np
from conftest import fabricate_brain_run

from anobench.evaluation.boards import compare
from anobench.evaluation.pixel_protocol import evaluate_run


def checkpoint_settings(seed, steps=3400):
    training = {"seed": seed, "steps": steps, "final_loss": 0.01 + seed / 1000, "device": "cpu", "threads": 2}
    return {
        "noise": "gaussian",
        "checkpoint": {"path": f"/c/seed{seed}.pt", "sha256": f"{seed:064d}", "training": training},
    }


def fabricate_seeds(root, method, qualities, steps=3400):
    folders = []
    for seed, quality in enumerate(qualities):
        folder = root / f"{method}-{steps}-seed{seed}"
        fabricate_brain_run(folder, method, quality, settings=checkpoint_settings(seed, steps))
        folders.append(folder)
    return folders


def test_training_seeds_merge_into_one_row_whose_interval_covers_them(tmp_path):
    thor = fabricate_seeds(tmp_path, "thor", (0.5, 0.9, 1.4))
    ddpm = fabricate_seeds(tmp_path, "ddpm", (0.3, 0.35, 0.4))
    other_recipe = fabricate_seeds(tmp_path, "thor", (1.0,), steps=100)  # trained otherwise: its own row
    path, metrics = compare([str(f) for f in thor + ddpm + other_recipe], out_dir=tmp_path / "boards")
    assert [(m.run.method, len(m.training_seed_values)) for m in metrics] == [("thor", 3), ("ddpm", 3), ("thor", 0)]
    alone = [evaluate_run(folder) for folder in thor]
    values = [m.intervals["dice all"].value for m in alone]
    merged = metrics[0].intervals["dice all"]
    assert merged.value == np.mean(values) and metrics[0].training_seed_values == tuple(values)
    # the two-level bootstrap covers the seeds' spread, and is wider than resampling the cases alone
    assert merged.low <= min(values) and merged.high >= max(values)
    cases_only = np.percentile(np.mean([m.resampled["dice all"] for m in alone], axis=0), [2.5, 97.5])
    assert merged.high - merged.low > cases_only[1] - cases_only[0]
    board = path.read_text()
    assert "Dice all over training seeds" in board and "(n=3," in board and "two-level bootstrap" in board
    assert "| thor " in board and "| ddpm " in board  # the merged rows are compared in pairs like any other


def test_repeats_of_one_training_seed_and_boards_without_seeds_are_left_as_they_were(tmp_path):
    for name in ("a", "b"):
        fabricate_brain_run(tmp_path / name, "thor", 1.0 if name == "a" else 0.5, settings=checkpoint_settings(0))
    path, metrics = compare([str(tmp_path / "a"), str(tmp_path / "b")], out_dir=tmp_path / "boards")
    assert [m.training_seed_values for m in metrics] == [(), ()]
    assert "training seeds" not in path.read_text()  # no merged row: the column and note stay away
