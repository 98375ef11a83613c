"""The tests' denoiser acts, and the tests that lean on it notice when it does not.

The method tests run on the shipped checkpoints (tests/conftest.py), whose predictions matter: the
Gaussian denoiser's ε̂ is the true noise to an RMS error of 0.28 at t = 20 and 0.05 at t = 600 (the
noise's RMS is 1). Every test marked `acting_network` must fail when the same checkpoint has its
weights zeroed (ANOBENCH_TEST_NETWORK=zero): a zero network's ε̂ = 0 leaves DDPM and THOR reconstructing
noise, so these tests cannot pass on plumbing alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
import torch
from conftest import ZERO_NETWORK, small_phantom_cases, stacked_images

from anobench.diffusion.checkpoint import load_model

# RMS of ε̂ − ε on the small phantom's 4 validation slices, measured 0.283, 0.145, 0.084, 0.047 (a zeroed
# network: 1.00 at every t); bounds about 1.25× the measured error
NOISE_ERROR_BOUNDS = {20: 0.35, 100: 0.18, 300: 0.105, 600: 0.06}


@pytest.mark.acting_network
def test_the_denoiser_predicts_the_noise_it_was_given(denoiser_checkpoint, small_phantom_generated):
    images = stacked_images(small_phantom_cases("val"))
    model, _ = load_model(denoiser_checkpoint, torch.device("cpu"))
    clean = model.to_model_range(images)
    for t, bound in NOISE_ERROR_BOUNDS.items():
        noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(t))
        with torch.inference_mode():
            predicted = model.predict(model.schedule.q_sample(clean, t, noise), t)
        error = float((predicted - noise).pow(2).mean().sqrt())
        assert error < bound, f"t = {t}: ε̂ misses ε by an RMS of {error:.3f}"


@pytest.mark.skipif(ZERO_NETWORK, reason="this test starts the zeroed-network run itself")
def test_every_acting_network_test_fails_when_the_network_is_zeroed(tmp_path):
    report = tmp_path / "zeroed.xml"
    root = Path(__file__).resolve().parents[1]
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "acting_network", "-n", "0", "-q", "-p", "no:cacheprovider"]
        + ["--junitxml", str(report), "tests"],
        cwd=root,
        env={**os.environ, "ANOBENCH_TEST_NETWORK": "zero"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 1, completed.stdout[-3000:] + completed.stderr[-3000:]  # 1: tests failed
    outcomes = {
        f"{case.get('classname')}.{case.get('name')}": any(child.tag in ("failure", "error") for child in case)
        for case in ElementTree.parse(report).getroot().iter("testcase")
    }
    assert len(outcomes) >= 7, sorted(outcomes)
    assert [name for name, failed in outcomes.items() if not failed] == []
