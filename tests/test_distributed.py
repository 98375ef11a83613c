"""torchrun on the CPU (gloo, 2 processes): sharded scoring and DDP training equal one process."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import torch
from conftest import FAST_DDPM, SMALL_PHANTOM, ddpm_run

from anobench.store.results import read_results

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]


def assignments(flag, options):
    return [word for key, value in options.items() for word in (flag, f"{key}={value}")]


def torchrun(*words, cwd):
    return subprocess.run([*TORCHRUN, "-m", "anobench", *words], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_torchrun_shards_cases_and_rank_0_merges_them_into_the_single_process_result(
    cli, denoiser_checkpoint, tmp_path
):
    words = [
        *ddpm_run(denoiser_checkpoint),
        "--latency-cases",
        "0",
        "--limit",
        "4",  # two cases per rank: the merge's bookkeeping is tested in-process (tests/test_harness.py)
        *assignments("--data", SMALL_PHANTOM),
        *assignments("--set", FAST_DDPM),
    ]
    assert cli(*words, "--out", str(tmp_path / "single")).returncode == 0
    result = torchrun(*words, "--out", str(tmp_path / "ranks"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    single = read_results(tmp_path / "single")
    ranks = read_results(tmp_path / "ranks")
    timing = ["seconds", "batch_size", "batch"]
    pd.testing.assert_frame_equal(ranks.rows.drop(columns=timing), single.rows.drop(columns=timing))
    np.testing.assert_allclose(ranks.maps, single.maps, rtol=0, atol=1e-6)
    assert sorted(p.name for p in (tmp_path / "ranks" / "shards").glob("rank*")) == [
        "rank0-of-2",  # each rank's result set, and its provenance written last
        "rank0-of-2.json",
        "rank1-of-2",
        "rank1-of-2.json",
    ]


def test_ddp_training_matches_one_process_on_the_same_global_batch(tmp_path):
    common = [
        "train",
        "--steps",
        "3",
        "--batch-size",
        "4",
        "--save-every",
        "1000",
        "--device",
        "cpu",
        *assignments("--set", SMALL_PHANTOM),
    ]
    one = subprocess.run(
        [sys.executable, "-m", "anobench", *common, "--out", str(tmp_path / "one.pt")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert one.returncode == 0, one.stderr[-3000:]
    two = torchrun(*common, "--out", str(tmp_path / "two.pt"), cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    first = torch.load(tmp_path / "one.pt", weights_only=True)
    second = torch.load(tmp_path / "two.pt", weights_only=True)
    for name, value in first["model"].items():
        torch.testing.assert_close(second["model"][name], value, rtol=1e-4, atol=1e-5, msg=name)
    assert second["training"]["processes"] == 2
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["two"]["command"].startswith("torchrun --nproc-per-node 2 -m anobench train")
