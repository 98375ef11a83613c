"""The command line as a user meets it: help, listings, and one clear line for every mistake."""

import re
import subprocess
import sys

import pytest
import torch
from conftest import ddpm_run

from anobench.datasets.brain_phantom import GENERATOR_VERSION
from anobench.diffusion.checkpoint import read_checkpoint
from anobench.store.folder import read_json


def assert_user_error(result, *fragments):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_version_is_the_distributions(cli):
    from anobench import __version__

    result = cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"anobench {__version__}"


def test_list_with_a_name_shows_its_settings_types_defaults_and_meaning(cli):
    result = cli("list", "autoddpm", env={"COLUMNS": "240"})
    assert result.returncode == 0 and "method autoddpm: --set KEY=VALUE" in result.stdout
    line = next(line for line in result.stdout.splitlines() if " mask_threshold " in line)
    assert "calibrated | image-percentile" in line and "when `threshold` is not given" in line
    data = cli("list", "brain-phantom", env={"COLUMNS": "240"})
    assert "data set brain-phantom: --data KEY=VALUE" in data.stdout and "n_test" in data.stdout
    assert_user_error(cli("list", "thorr"), "no method or data set named 'thorr'")


def test_every_built_in_setting_says_what_it_means():
    from anobench import registry
    from anobench.config import describe_settings

    for plugins in (registry.methods, registry.datasets):
        for name, entry in plugins.entries().items():
            if entry.distribution != "anobench":
                continue
            silent = [row[0] for row in describe_settings(plugins.get(name).settings()) if not row[3]]
            assert not silent, (name, silent)


def test_help_and_list(cli):
    assert cli("--help").returncode == 0
    listing = cli("list")
    assert listing.returncode == 0
    for word in ("ddpm", "brain-phantom", "anobench", "Partial-diffusion"):
        assert word in listing.stdout


def test_unknown_method_and_dataset_name_the_valid_ones(cli, tmp_path):
    assert_user_error(cli("run", "--method", "thorr", "--dataset", "brain-phantom"), "unknown method 'thorr'", "ddpm")
    assert_user_error(
        cli("run", "--method", "ddpm", "--dataset", "atlass"), "unknown dataset 'atlass'", "brain-phantom"
    )


def test_missing_checkpoint_names_the_file_and_the_train_command(cli, tmp_path, phantom_args):
    result = cli(
        "run",
        "--method",
        "ddpm",
        "--dataset",
        "brain-phantom",
        "--preset",
        "paper",
        "--out",
        str(tmp_path / "r"),
        *phantom_args,
    )
    assert_user_error(
        result,
        "brain-phantom-gaussian-paper.pt",
        # the run's data options too: the denoiser is trained on the phantom the run scores
        "anobench train --dataset brain-phantom --set n_test=12 --set n_test_healthy=4 --set n_train=24 --set n_val=4 "
        "--noise gaussian --preset paper",
    )
    given = cli(
        *ddpm_run(tmp_path / "none.pt"),
        "--out",
        str(tmp_path / "r2"),
        *phantom_args,
    )
    assert_user_error(given, "none.pt", "does not exist")


def test_corrupt_checkpoint(cli, tmp_path, phantom_args):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint at all")
    result = cli(
        *ddpm_run(broken),
        "--out",
        str(tmp_path / "r"),
        *phantom_args,
    )
    assert_user_error(result, "broken.pt", "corrupt")


def test_wrong_architecture_checkpoint(cli, tmp_path, denoiser_checkpoint, phantom_args):
    payload = read_checkpoint(denoiser_checkpoint)
    payload["model"] = {key: value[..., :1] if value.ndim == 4 else value for key, value in payload["model"].items()}
    wrong = tmp_path / "wrong.pt"
    torch.save(payload, wrong)
    result = cli(
        *ddpm_run(wrong),
        "--out",
        str(tmp_path / "r"),
        *phantom_args,
    )
    assert_user_error(result, "wrong.pt", "wrong architecture")


def test_unwritable_output_folder(cli, tmp_path, denoiser_checkpoint, phantom_args):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = cli(
        *ddpm_run(denoiser_checkpoint),
        "--out",
        str(blocker / "run"),
        *phantom_args,
    )
    assert_user_error(result, "cannot write to output folder", str(blocker / "run"))


def test_unknown_setting_names_the_valid_ones(cli, tmp_path, denoiser_checkpoint, phantom_args):
    result = cli(
        *ddpm_run(denoiser_checkpoint),
        "--out",
        str(tmp_path / "r"),
        *phantom_args,
        "--set",
        "T0=3",
    )
    assert_user_error(
        result,
        "unknown setting(s) T0 for method 'ddpm' (--set KEY=VALUE)",
        "valid: clamp_reconstruction, error, noise, sampler, schedule_arithmetic, stride, t0, variance, x0_clip",
        "`anobench list ddpm` explains each",
    )
    options = cli(*ddpm_run(denoiser_checkpoint), "--out", str(tmp_path / "o"), *phantom_args, "--data", "sede=3")
    assert_user_error(options, "unknown option(s) sede for data set 'brain-phantom' (--data KEY=VALUE)")


def assert_every_stage_shown_and_timed(stdout: str, out) -> None:
    """Piped output (not a terminal): plain lines for every stage, and a summary whose stages add up
    to the whole time it prints."""
    lines = stdout.splitlines()
    for start in (
        "opening brain-phantom and checking the request…",
        "preparing ddpm (checkpoint, settings, calibration)…",
        "ddpm on brain-phantom:test: 0/12 · 0:00:00 elapsed · estimating time left",
        "ddpm: latency at batch size 1 (1 warm-up call): 0/5",
        "ddpm on brain-phantom:val: 0/4",
    ):
        assert any(line.startswith(start) for line in lines), (start, stdout)
    assert any(line.startswith("ddpm on brain-phantom:test: 12/12 ·") and line.endswith("done") for line in lines)
    headline, stages = lines[-2:]
    total = float(re.fullmatch(rf"12 cases in ([0-9.]+) s → {re.escape(str(out))}", headline).group(1))
    named = re.findall(r"([a-z][a-z0-9 ():,-]*?) ([0-9.]+) s", stages)
    assert [name for name, _ in named] == [
        "setup (data, model)",
        "scoring brain-phantom:test",
        "latency at batch size 1",
        "healthy brain-phantom:val",
        "writing",
        "start-up",
    ], stages
    assert abs(sum(float(seconds) for _, seconds in named) - total) <= 0.05 * len(named) + 1e-9
    assert "% inside the network)" in stages


def test_run_then_compare_prints_a_leaderboard(cli, tmp_path, denoiser_checkpoint, phantom_args):
    out = tmp_path / "run"
    result = cli(
        *ddpm_run(denoiser_checkpoint),
        "--out",
        str(out),
        "--healthy-split",
        "val",
        *phantom_args,
    )
    assert result.returncode == 0, result.stderr
    assert_every_stage_shown_and_timed(result.stdout, out)
    board = cli("compare", str(out), "--out-dir", str(tmp_path / "boards"), "--name", "smoke")
    assert board.returncode == 0, board.stderr
    assert "ddpm" in board.stdout and "small" in board.stdout and "95% CI" in board.stdout
    markdown = (tmp_path / "boards" / "smoke.md").read_text()
    table = [line.split("|")[1:-1] for line in markdown.splitlines() if line.startswith("| ")]
    cells = dict(zip([h.strip() for h in table[0]], [c.strip() for c in table[1]]))
    assert cells["method"] == "ddpm" and " [" in cells["Dice all"] and " [" in cells["AUPRC"]
    assert "(τ 0." in cells["Dice calibrated"] and float(cells["gap"]) >= 0
    assert float(cells["s/img batch 1 (med/p90)"].split("/")[0]) > 0 and float(cells["peak MB"]) > 0


def test_sharded_run_merges_when_the_last_rank_finishes(cli, tmp_path, denoiser_checkpoint, phantom_args):
    out = tmp_path / "sharded"
    common = [
        *ddpm_run(denoiser_checkpoint),
        "--out",
        str(out),
        "--world-size",
        "2",
        *phantom_args,
    ]
    first = cli(*common, "--rank", "0")
    assert first.returncode == 0 and "merged when every rank is done" in first.stdout
    assert_user_error(cli("merge", str(out)), "not every rank has finished")
    second = cli(*common, "--rank", "1")
    assert second.returncode == 0, second.stderr
    assert (out / "cases.parquet").is_file()


def test_data_make_regenerates_the_phantom(cli):
    result = cli(
        "data",
        "make",
        "brain-phantom",
        "--set",
        "n_train=2",
        "--set",
        "n_val=1",
        "--set",
        "n_test_healthy=1",
        "--set",
        "n_test=3",
    )
    assert result.returncode == 0, result.stderr
    assert f"v{GENERATOR_VERSION}-seed0-n2-1-1-3" in result.stdout
    assert_user_error(cli("data", "make", "wrist-phantom"), "only brain-phantom")


def test_thor_auto_backend_warns_records_and_labels_the_backend(cli, tmp_path, denoiser_checkpoint, phantom_args):
    import json

    runs, stderr = {}, {}
    for backend in ("auto", "ssim"):
        runs[backend] = tmp_path / backend
        result = cli(
            "run",
            "--method",
            "thor",
            "--dataset",
            "brain-phantom",
            "--checkpoint",
            str(denoiser_checkpoint),
            "--out",
            str(runs[backend]),
            *phantom_args,
            "--set",
            "harmonization=10",
            "--set",
            f"perceptual={backend}",
        )
        assert result.returncode == 0, result.stderr
        stderr[backend] = result.stderr
    assert "warning: perceptual=auto" in stderr["auto"] and "squeezenet1_1-b8a52dc0.pth" in stderr["auto"]
    assert "warning" not in stderr["ssim"]
    provenance = json.loads((runs["auto"] / "provenance.json").read_text())
    assert provenance["perceptual_backend"] == "unet"
    board = cli("compare", str(runs["auto"]), str(runs["ssim"]), "--out-dir", str(tmp_path / "boards"), "--name", "b")
    assert board.returncode == 0, board.stderr
    markdown = (tmp_path / "boards" / "b.md").read_text()
    assert "thor (reference, unet)" in markdown and "thor (reference, ssim)" in markdown


def test_patched_training_and_pddpm_run_into_the_table1_layout(cli, tmp_path, phantom_words):
    checkpoint = tmp_path / "patched.pt"
    trained = cli(
        "train",
        "--scheme",
        "patched",
        "--noise",
        "simplex-2d",
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--out",
        str(checkpoint),
        *phantom_words("--set"),
    )
    assert trained.returncode == 0, trained.stderr
    manifest = (tmp_path / "manifest.json").read_text()
    assert "--noise simplex-2d" in manifest and "--scheme patched" in manifest
    out = tmp_path / "pddpm"
    result = cli(
        "run",
        "--method",
        "pddpm",
        "--dataset",
        "brain-phantom",
        "--checkpoint",
        str(checkpoint),
        "--out",
        str(out),
        *phantom_words("--data"),
        "--set",
        "postprocess=true",
    )
    assert result.returncode == 0, result.stderr
    board = cli("compare", str(out), "--layout", "table1", "--out-dir", str(tmp_path / "boards"), "--name", "t1")
    assert board.returncode == 0, board.stderr
    markdown = (tmp_path / "boards" / "t1.md").read_text()
    rows = [
        [cell.strip() for cell in line.split("|")[1:4]]
        for line in markdown.splitlines()
        if line.startswith("| simplex")
    ]
    assert rows == [
        ["simplex", "pddpm (truncate, postprocess)", "anobench, brain-phantom"],
        ["simplex", "pDDPM", "reported (real ATLAS)"],
    ]


def test_a_runs_config_repeats_it_and_options_given_beside_it_win(cli, tmp_path, denoiser_checkpoint, phantom_args):
    from anobench.store.results import read_results

    first = tmp_path / "first"
    words = [*ddpm_run(denoiser_checkpoint), "--healthy-split", "val", "--seed", "3", "--limit", "6", *phantom_args]
    assert cli(*words, "--latency-cases", "0", "--out", str(first)).returncode == 0
    again = cli("run", "--config", str(first / "config.json"), "--out", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    recorded, repeated = (read_json(folder / "config.json") for folder in (first, tmp_path / "again"))
    assert recorded == repeated  # method, data, settings, checkpoint, seed, limit and healthy split alike
    assert (read_results(first).maps == read_results(tmp_path / "again").maps).all()
    changed = cli("run", "--config", str(first), "--limit", "2", "--set", "t0=20", "--out", str(tmp_path / "changed"))
    assert changed.returncode == 0, changed.stderr
    config = read_json(tmp_path / "changed" / "config.json")
    assert config["limit"] == 2 and config["seed"] == 3 and config["method_options"] == {"t0": "20", "stride": "10"}
    assert_user_error(cli("run", "--config", str(first), "--method", "thor"), "--method thor differs from the 'ddpm'")
    assert_user_error(cli("run", "--config", str(first / "cases.parquet")), "--config needs a run folder's config.json")
    assert_user_error(cli("run", "--dataset", "brain-phantom"), "give --method and --dataset", "--config")


def test_several_seeds_make_one_row_with_their_spread(cli, tmp_path, denoiser_checkpoint, phantom_args):
    out = tmp_path / "seeds"
    result = cli(
        *ddpm_run(denoiser_checkpoint),
        "--out",
        str(out),
        "--seeds",
        "0,1",
        "--latency-cases",
        "0",
        "--limit",
        "2",
        *phantom_args,
    )
    assert result.returncode == 0, result.stderr
    assert (out / "seed-0" / "cases.parquet").is_file() and (out / "seed-1" / "cases.parquet").is_file()
    board = cli("compare", str(out / "seed-*"), "--out-dir", str(tmp_path / "boards"), "--name", "seeds")
    assert board.returncode == 0, board.stderr
    rows = [line for line in (tmp_path / "boards" / "seeds.md").read_text().splitlines() if line.startswith("| ddpm")]
    assert len(rows) == 1 and "(n=2, " in rows[0]
    assert_user_error(cli("run", "--method", "ddpm", "--dataset", "brain-phantom", "--seeds", "0,x"), "--seeds '0,x'")


def test_sweep_then_report(cli, tmp_path, denoiser_checkpoint, phantom_words):
    from PIL import Image

    out = tmp_path / "sweep"
    common = [
        "sweep",
        "--method",
        "thor",
        "--method",
        "ddpm",
        "--noise-levels",
        "20,30",
        "--out",
        str(out),
        "--checkpoint",
        str(denoiser_checkpoint),
        "--set",
        "stride=10",
        "--set",
        "thor.harmonization=10",
        "--set",
        "thor.perceptual=ssim",
        *phantom_words("--data"),
    ]
    result = cli(*common)
    assert result.returncode == 0, result.stderr
    assert "thor (reference, ssim), gaussian, stride 10: T0 20:" in result.stdout
    assert sorted(p.parent.name for p in out.glob("*/t0-*/cases.parquet")) == ["t0-20", "t0-20", "t0-30", "t0-30"]
    assert len(list(out.glob("*/t0-*/healthy/cases.parquet"))) == 4  # every grid point can show a calibrated Dice
    Image.open(out / "sweep.png").verify()
    again = cli(*common)
    assert again.returncode == 0 and again.stdout.count("kept ") == 4  # finished grid points are not scored again

    report = cli("report", str(out / "*" / "t0-*"), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    index = (tmp_path / "report" / "index.md").read_text()
    for section in (
        "## Leaderboard",
        "## Paired comparisons",
        "## Rank stability",
        "## Precision-recall",
        "## Dice against the noise level",
    ):
        assert section in index
    pictures = list((tmp_path / "report").glob("*.png"))
    assert len(pictures) == 4 + 4  # significance, ranks, PR, sweep, one case panel per run
    for picture in pictures:
        Image.open(picture).verify()


@pytest.mark.parametrize(
    "words",
    [
        ["list"],
        ["--help"],
        ["--version"],
        ["run", "--method", "thorr", "--dataset", "atlas"],
        ["run", "--method", "thor", "--dataset", "atlas", "--data-root", "/nowhere"],
        ["run", "--method", "thor", "--dataset", "brain-phantom", "--precision", "fp8"],
    ],
)
def test_listing_help_and_mistakes_answer_without_importing_torch(words):
    """What makes the first answer fast: no torch (seconds to import) before it is needed."""
    probe = (
        "import sys\nfrom anobench.cli import main\nsys.argv = ['anobench', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\nprint('torch imported:', 'torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe, *words], capture_output=True, text=True, timeout=120)
    assert "torch imported: False" in result.stdout, result.stdout + result.stderr
