"""Make tests/methods/golden/andi-release.{npz,json}: ANDi's per-timestep deviations, their geometric
and arithmetic means, and one draw of its pyramidal noise, as the official code computes them
(`Diffusion.normative_diffusion` of diffusion.py, `gmean` and `pyramid_noise_like` of utils.py in
AlexanderFrotscher/ANDi), for `tests/methods/test_andi.py`. The release is imported from a checkout
given as the argument (its code stays out of this project); `lmdb`, which only its data loaders
use, is stubbed.

    .venv/bin/python bench/golden/andi_map.py ANDI_CHECKOUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import fixture
import numpy as np
import torch

PYRAMID_U = [0.1, 0.7, 0.3]  # what random.random returns in the pyramid draw: r = 2 + 2u at each level


def clean_images() -> np.ndarray:
    """2x1x16x16 in the network's [-1, 1] units: background -1, a block of U(-0.6, 0.9)."""
    rng = np.random.default_rng(11)
    clean = np.full((2, 1, 16, 16), -1.0, np.float32)
    clean[:, :, 3:13, 2:14] = rng.uniform(-0.6, 0.9, size=(2, 1, 10, 12))
    return clean


def main(checkout: Path) -> None:
    fixture.stub_module("lmdb")
    sys.path.insert(0, str(checkout))
    import utils
    from diffusion import Diffusion

    clean = torch.from_numpy(clean_images())
    diffusion = Diffusion(noise_steps=1000, img_size=16, beta_start=1e-4, beta_end=0.02, device="cpu")
    drawn: dict[int, torch.Tensor] = {}
    noise_images = diffusion.noise_images

    def recording(x, t, **options):
        x_t, noise = noise_images(x, t, **options)
        drawn[int(t[0])] = noise.clone()
        return x_t, noise

    diffusion.noise_images = recording
    torch.manual_seed(73)

    def stub(x_t, t):
        return 0.5 * x_t + 0.001 * t.float()[:, None, None, None]

    stub.eval = lambda: None  # the release switches its network to evaluation mode
    deviations = diffusion.normative_diffusion(stub, clean, start=75, stop=81, pyramid=False)

    white, grids, answers = [], [], iter(PYRAMID_U)
    randn = torch.randn

    def recorded_randn(*shape, **options):
        draw = randn(*shape, **options)
        (grids if white else white).append(draw.clone())
        return draw

    utils.random.random = lambda: next(answers)
    utils.torch.randn = recorded_randn
    torch.manual_seed(5)
    try:
        pyramid = utils.pyramid_noise_like(1, 1, 32, 0.8, "cpu")
    finally:
        utils.torch.randn = randn
    arrays = {
        "clean": clean.numpy(),
        "noise": torch.stack([drawn[t] for t in sorted(drawn)]).numpy(),
        "deviations": deviations.numpy(),
        "gmean": utils.gmean(deviations, dim=1).numpy(),
        "mean": torch.mean(deviations, dim=1).numpy(),
        "pyramid_u": np.array(PYRAMID_U[: len(grids)]),
        "pyramid_white": white[0][0].numpy(),
        "pyramid": pyramid[0].numpy(),
        **{f"pyramid_grid_{level}": grid[0].numpy() for level, grid in enumerate(grids)},
    }
    commit = fixture.commit_of(checkout)
    description = {
        "what": "ANDi's per-timestep deviations and their aggregation, and one draw of its pyramidal noise, as the "
        "official code computes them",
        "source": f"github.com/AlexanderFrotscher/ANDi at commit {commit} (diffusion.py Diffusion.normative_diffusion, "
        "utils.py gmean and pyramid_noise_like)",
        "how": "Diffusion(noise_steps=1000, img_size=16, beta_start=1e-4, beta_end=0.02, device='cpu')"
        ".normative_diffusion(stub, clean, start=75, stop=81, pyramid=False) after torch.manual_seed(73), the network "
        "a stub returning 0.5 * x_t + 0.001 * t, each step's Gaussian noise recorded; gmean(deviations, dim=1) and "
        "torch.mean(deviations, dim=1) as eval.py aggregates (gmean: True / False). Pyramid: pyramid_noise_like(1, 1, "
        "32, 0.8, 'cpu') after torch.manual_seed(5) with random.random returning the listed u values, its torch.randn "
        "draws recorded",
        "inputs": "clean: 2x1x16x16 in the network's [-1, 1] units, background -1, rows 3..12 and columns 2..13 drawn "
        "U(-0.6, 0.9) with numpy default_rng(11); float32",
        "arrays": "clean, noise (6x2x1x16x16, t = 75..80), deviations (2x6x1x16x16), gmean, mean (2x1x16x16); "
        "pyramid_u (the u values used, r = 2 + 2u), pyramid_white (1x32x32), pyramid_grid_<level> (1xSxS), pyramid "
        "(1x32x32)",
    }
    fixture.write("andi-release", arrays, description, f"torch {torch.__version__.split('+')[0]}")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
