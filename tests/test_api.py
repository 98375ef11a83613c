from conftest import SMALL_PHANTOM

import anobench


def test_python_api_runs_and_compares(tiny_checkpoint, tmp_path):
    summary = anobench.run(
        "ddpm",
        "brain-phantom",
        checkpoint=tiny_checkpoint,
        dataset_options=SMALL_PHANTOM,
        method_options={"t0": "20", "stride": "10"},
        out=tmp_path / "run",
        device="cpu",
    )
    assert summary.cases == 12 and summary.merged
    path, metrics = anobench.compare([str(summary.folder)], name="api", out_dir=tmp_path)
    assert path.read_text().startswith("# Leaderboard: brain-phantom")
    assert metrics[0].run.method == "ddpm" and metrics[0].run.nfe == 3
    assert 0 <= metrics[0].dice["all"].dice <= 1
