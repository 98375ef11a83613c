"""From nothing to a real-data board, as a user with the real releases would go, on fabricated
trees in the release layouts (toy sizes): `prepare ixi` → `train` on IXI train + ATLAS
train-healthy → `run` on ATLAS with IXI's healthy validation slices → `compare`; and the training
command that a missing checkpoint's error proposes, run exactly as printed."""

import os
import re
import shlex
import signal
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import FAST_THOR_WORDS
from fabricated import (
    ATLAS_SHAPE,
    brain_volume,
    known_affine,
    write_nifti,
    write_raw,
    write_scan,
    write_template_and_mask,
)

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]


def atlas_release(root):
    """ATLAS_2 as it unpacks: labelled Training/ scans (two without a lesion in slice 95) and a
    Testing/ scan whose mask the release withholds."""
    for number in range(1, 5):
        mask = None if number <= 2 else np.zeros(ATLAS_SHAPE, np.uint8)
        write_scan(root, f"sub-r001s00{number}", brain_volume(number), mask)
    anat = root / "Testing" / "R002" / "sub-r002s001" / "ses-1" / "anat"
    write_nifti(anat / "sub-r002s001_ses-1_space-MNI152NLin2009aSym_T1w.nii.gz", brain_volume(9))
    return root


def test_prepare_train_run_compare_on_the_release_layouts(cli, tmp_path):
    template, mask = write_template_and_mask(tmp_path)
    for number in range(2, 8):  # six scans: 10 % rounds to one validation and one test scan
        write_raw(tmp_path / "IXI-T1", number, known_affine() if number % 2 else sitk.AffineTransform(3))
    caps = tmp_path / "ixi"
    prepared = cli(
        "prepare", "ixi", str(tmp_path / "IXI-T1"), str(caps), "--template", str(template), "--brain-mask", str(mask)
    )
    assert prepared.returncode == 0, prepared.stderr
    atlas = atlas_release(tmp_path / "ATLAS_2")
    model = tmp_path / "brain.pt"
    trained = cli(
        "train",
        "--dataset",
        "ixi",
        "--dataset",
        "atlas:train-healthy",
        "--data-root",
        f"ixi={caps}",
        "--data-root",
        f"atlas={atlas}",
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--out",
        str(model),
    )
    assert trained.returncode == 0, trained.stderr
    assert "training on 6 images of ixi + atlas:train-healthy" in trained.stdout  # 4 IXI train + 2 lesion-free
    for method in ("thor", "ddpm"):
        extra = FAST_THOR_WORDS if method == "thor" else ["--set", "t0=20", "--set", "stride=10"]
        scored = cli(
            "run",
            "--method",
            method,
            "--dataset",
            "atlas",
            "--data-root",
            str(atlas),
            "--data-root",
            f"ixi={caps}",
            "--healthy-split",
            "auto",
            "--checkpoint",
            str(model),
            "--out",
            str(tmp_path / "runs" / method),
            *extra,
        )
        assert scored.returncode == 0, scored.stderr
        assert "4 cases" in scored.stdout and "skipped (1 in Testing/" in scored.stderr
    board = cli(
        "compare",
        str(tmp_path / "runs" / "thor"),
        str(tmp_path / "runs" / "ddpm"),
        "--out-dir",
        str(tmp_path / "boards"),
    )
    assert board.returncode == 0, board.stderr
    text = (tmp_path / "boards" / "atlas.md").read_text()
    assert "every run scored the same 4 cases" in text
    assert re.search(r"\(τ \d\.\d\d, healthy \d+\.\d %", text)  # calibrated on IXI's validation slice
    verified = cli("data", "verify", str(tmp_path / "runs" / "thor"))
    assert verified.returncode == 0, verified.stderr


def test_the_training_command_a_missing_checkpoint_proposes_runs_as_printed(cli, tmp_path):
    atlas = atlas_release(tmp_path / "ATLAS_2")
    cache = tmp_path / "cache"
    env = {"ANOBENCH_CACHE": str(cache)}
    run_words = [
        "run",
        "--method",
        "thor",
        "--dataset",
        "atlas",
        "--data-root",
        str(atlas),
        "--out",
        str(tmp_path / "run"),
        *FAST_THOR_WORDS,
    ]
    missing = cli(*run_words, env=env)
    assert missing.returncode == 2, missing.stderr
    command = re.search(r"train it with `([^`]+)`", missing.stderr).group(1)
    words = shlex.split(command)
    assert words[:2] == ["anobench", "train"] and words[-1] == str(
        cache / "checkpoints" / "atlas-gaussian-cpu-small.pt"
    )
    # exactly as printed: it reads the lesion-free ATLAS slices and starts training
    process = subprocess.Popen(
        [sys.executable, "-m", "anobench.cli", *words[1:]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    started = first_line(process, timeout=120)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert "training on 2 images of atlas:train-healthy" in started, process.stderr.read()
    # finished (in two steps here), the same `anobench run` then finds the checkpoint where it looks
    finished = cli(*words[1:], "--steps", "2", "--batch-size", "2", env=env)
    assert finished.returncode == 0, finished.stderr
    again = cli(*run_words, env=env)
    assert again.returncode == 0, again.stderr


def first_line(process, timeout):
    """The first line the process prints, or "" after `timeout` seconds (a pipe read cannot hang the suite)."""
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        return process.stdout.readline() if selector.select(timeout) else ""
