from pathlib import Path

from anobench.leaderboard import BIN_NAMES, RunMetrics, noise_family, render_table1
from anobench.metrics import MaxDice
from anobench.published import table1


def run_metrics(method, noise, dice):
    return RunMetrics(
        folder=Path(f"runs/{method}-{noise}"), method=method, settings={"noise": noise}, dataset="brain-phantom",
        split="test", data_manifest="abc", dice={name: MaxDice(dice, 0.5) for name in [*BIN_NAMES, "all"]},
        cases_per_bin={name: 1 for name in [*BIN_NAMES, "all"]}, auprc=0.5, nfe=9, seconds_per_image=0.1, device="cpu",
    )


def test_published_table1_is_the_papers():
    published = table1().set_index(["noise", "method"])
    assert len(published) == 6
    assert published.loc[("gaussian", "THOR"), "dice_average"] == 20.41
    assert published.loc[("simplex", "pDDPM"), "dice_small"] == 8.02


def test_table1_puts_each_run_beside_the_papers_row_in_the_papers_order():
    metrics = [run_metrics("pddpm", "simplex-2d", 0.4), run_metrics("ddpm", "gaussian", 0.1), run_metrics("thor", "gaussian", 0.3)]
    board = render_table1(metrics, "anobench compare")
    rows = [line for line in board.splitlines() if line.startswith("| gaussian") or line.startswith("| simplex")]
    labels = [[cell.strip() for cell in row.split("|")[1:4]] for row in rows]
    assert labels == [
        ["gaussian", "thor", "anobench, brain-phantom"], ["gaussian", "THOR", "reported (real ATLAS)"],
        ["gaussian", "ddpm", "anobench, brain-phantom"], ["gaussian", "DDPM", "reported (real ATLAS)"],
        ["simplex", "pddpm", "anobench, brain-phantom"], ["simplex", "pDDPM", "reported (real ATLAS)"],
    ]
    assert "| 22.28 " in rows[-1] and "| 40.00 " in rows[-2]
    assert "MICCAI 2024" in board


def test_simplex_variants_share_the_papers_simplex_group():
    assert {noise_family(n) for n in ("simplex", "simplex-normalised", "simplex-2d")} == {"simplex"}
    assert noise_family("gaussian") == "gaussian"


def test_labels_tell_variants_apart():
    from anobench.leaderboard import method_label

    plain = run_metrics("pddpm", "simplex-2d", 0.1)
    post = RunMetrics(**{**plain.__dict__, "settings": {"stitching": "avg", "postprocess": True}})
    quiet = RunMetrics(**{**plain.__dict__, "settings": {"stitching": "truncate", "postprocess": False}})
    assert method_label(plain) == "pddpm"
    assert method_label(post) == "pddpm (avg, postprocess)" and method_label(quiet) == "pddpm (truncate)"
