"""Restoration on healthy slices (MAE, SSIM, LPIPS between healthy inputs and reconstructions), from
fabricated run folders whose reconstructions are off by a known amount."""

import shutil

import numpy as np
from conftest import fabricate_brain_run

from anobench.evaluation.boards import compare
from anobench.evaluation.fidelity import fidelity_of


def test_restoration_is_measured_over_the_brain_and_shown_under_the_board(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no ImageNet weights: no LPIPS
    fabricate_brain_run(tmp_path / "close", "thor", 1.0, restoration_error=0.02)
    fabricate_brain_run(tmp_path / "far", "ddpm", 1.0, restoration_error=0.1)
    fabricate_brain_run(tmp_path / "none", "andi", 1.0)  # no reconstruction stored
    close, far = fidelity_of(tmp_path / "close"), fidelity_of(tmp_path / "far")
    assert fidelity_of(tmp_path / "none") is None
    # the background's 0.5 error is left out: MAE is the disc's error, to float16's precision
    assert abs(close.mae.value - 0.02) < 1e-3 and abs(far.mae.value - 0.1) < 2e-3
    assert close.ssim.value > far.ssim.value and close.cases == 6 and close.split == "healthy"
    assert close.lpips is None
    path, _ = compare([str(tmp_path / name) for name in ("close", "far", "none")], out_dir=tmp_path / "boards")
    board = path.read_text()
    section = board[board.index("## Restoration on healthy slices") :]
    assert "| thor " in section and "2.00 [" in section and "10.0" in section and "no reconstruction" in section
    assert "LPIPS is left out" in section and "LPIPS ×100" not in section


def test_lpips_joins_when_the_squeezenet_weights_are_on_the_machine(tmp_path, monkeypatch, fake_squeezenet_weights):
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    shutil.copy(fake_squeezenet_weights, hub / fake_squeezenet_weights.name)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    fabricate_brain_run(tmp_path / "run", "thor", 1.0, restoration_error=0.05)
    measured = fidelity_of(tmp_path / "run")
    assert measured.lpips is not None and np.isfinite(measured.lpips.value) and measured.lpips.value > 0
    path, _ = compare([str(tmp_path / "run")], out_dir=tmp_path / "boards")
    assert "LPIPS ×100 [95% CI]" in path.read_text()
