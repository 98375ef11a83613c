"""Make tests/methods/golden/cddpm-release.{npz,json}: cDDPM's noise-ensemble reconstruction and its
residual map as the official code computes them (`GaussianDiffusion` of
src/models/modules/cond_DDPM.py in FinnBehrendt/Conditioned-Diffusion-Models-UAD, called as the
`noise_ensemble` test step of src/models/DDPM_2D.py calls it), on a fixed image, fixed condition
features and fixed noise, for `tests/methods/test_cddpm.py`. The release is imported from a
checkout given as the argument (its code stays out of this project); `ema_pytorch`, `accelerate`
and `numba`, which it imports and this path never uses, are stubbed.

    .venv/bin/python bench/golden/cddpm_ensemble.py CDDPM_CHECKOUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import fixture
import numpy as np
import torch

TIMESTEPS = (250, 500, 750)


def inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    clean = np.zeros((2, 1, 16, 16), np.float32)
    clean[:, :, 3:13, 2:14] = rng.uniform(0.1, 0.9, size=(2, 1, 10, 12))
    condition = rng.standard_normal((2, 4)).astype(np.float32)
    noise = rng.normal(0, 1, size=(3, 2, 1, 16, 16)).astype(np.float32)
    return {"clean": clean, "condition": condition, "noise": noise}


class StubNetwork(torch.nn.Module):
    """0.8 x_t + 0.1 mean(cond) − 0.0002 t, in the network's [−1, 1] units."""

    def forward(self, x, t, cond=None):
        return 0.8 * x + 0.1 * cond.mean(dim=1)[:, None, None, None] - 0.0002 * t[:, None, None, None]


def main(checkout: Path) -> None:
    fixture.stub_module("ema_pytorch", EMA=object)
    fixture.stub_module("accelerate", Accelerator=object)
    fixture.stub_module("numba", njit=lambda *a, **k: lambda f: f, prange=range)
    sys.path.insert(0, str(checkout))
    from src.models.modules.cond_DDPM import GaussianDiffusion

    arrays = inputs()
    clean, condition = torch.from_numpy(arrays["clean"]), torch.from_numpy(arrays["condition"])
    diffusion = GaussianDiffusion(StubNetwork(), image_size=(16, 16), timesteps=1000, objective="pred_x0",
                                  channels=1, loss_type="l1")  # fmt: skip
    predictions = []
    with torch.no_grad():
        for index, t in enumerate(TIMESTEPS):
            noise = torch.from_numpy(arrays["noise"][index])
            predictions.append(diffusion(clean, cond=condition, t=t - 1, noise=noise)[1])
    reconstruction = torch.stack(predictions).mean(dim=0)
    arrays |= {
        "alphas_cumprod": diffusion.alphas_cumprod[[t - 1 for t in TIMESTEPS]].float().numpy(),
        "reconstruction": reconstruction.numpy(),
        "map": (clean - reconstruction).abs().numpy(),
    }
    commit = fixture.commit_of(checkout)
    description = {
        "what": "cDDPM's noise-ensemble reconstruction and residual map as the official code computes them, for a "
        "fixed image, fixed condition features and fixed noise",
        "source": f"github.com/FinnBehrendt/Conditioned-Diffusion-Models-UAD at commit {commit} "
        "(src/models/modules/cond_DDPM.py GaussianDiffusion, src/models/DDPM_2D.py test_step with noise_ensemble)",
        "how": "GaussianDiffusion(stub, image_size=(16, 16), timesteps=1000, objective='pred_x0', channels=1, "
        "loss_type='l1') (cosine schedule, its default); for t in (250, 500, 750): diffusion(clean, cond=condition, "
        "t=t-1, noise=noise[i]) returns the x0 prediction in [0, 1]; reconstruction = their mean; map = |clean - "
        "reconstruction| (before the evaluation's post-processing). The stub network returns 0.8 * x_t + 0.1 * "
        "mean(cond) - 0.0002 * t in the network's [-1, 1] units; third-party modules the diffusion does not use "
        "(ema_pytorch, accelerate, numba) were stubbed to import it",
        "inputs": "clean: 2x1x16x16 in [0, 1], zero background, rows 3..12 and columns 2..13 drawn U(0.1, 0.9) with "
        "numpy default_rng(5); condition: 2x4 N(0, 1) from the same generator (stands in for the encoder's output); "
        "noise: 3x2x1x16x16 N(0, 1) from the same generator; float32",
        "arrays": "clean, condition, noise, alphas_cumprod (ᾱ at indices 249, 499, 749), reconstruction, map "
        "(2x1x16x16)",
    }
    fixture.write("cddpm-release", arrays, description, f"torch {torch.__version__.split('+')[0]}")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
