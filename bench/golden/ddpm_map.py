"""Make tests/methods/golden/ddpm-release.{npz,json}: the THOR paper's DDPM and AnoDDPM baselines as
the THOR paper's code computes them (`DDPM.get_anomaly` with an inference type other than `thor`, in
`model_zoo/ddpm.py` of compai-lab/2024-miccai-bercea-thor: `sample_from_image` with its own
scheduler, then |x − x_rec|) on the stubs of `tests/thor_golden.py`, for
`tests/methods/test_ddpm_release_parity.py`. The release is imported from a checkout given as the
argument (its code stays out of this project); `wandb` and `lpips`, which the module imports and this
path never uses, are stubbed, and `cv2` must be importable (`pip install --target DIR
opencv-python-headless`, then `PYTHONPATH=DIR`).

DDPM is the Gaussian chain from T0 = 350, AnoDDPM (THOR-paper protocol) the simplex one from
T0 = 250: with every draw injected (the k-th draw of a run is `thor_golden.hashed_uniform(key + k)`),
the two differ in T0 and in the scheduler's noise type only.

    PYTHONPATH=CV2_DIR .venv/bin/python bench/golden/ddpm_map.py THOR_CHECKOUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import fixture
import numpy as np
import torch

RUNS = {"ddpm": (350, "gaussian", 400_000), "anoddpm": (250, "simplex", 500_000)}


def main(checkout: Path) -> None:
    thor = fixture.thor_release(checkout)
    image = thor.golden.input_image()
    arrays = {"image": image.numpy()}
    for name, (t0, noise_type, key) in RUNS.items():
        draws: list[int] = []

        def generate_noise(kind, x, timestep=None, generator=None, key=key, draws=draws):
            draws.append(int(timestep))
            return torch.from_numpy(thor.golden.hashed_uniform(key + len(draws) - 1))[None, None]

        model = thor.model(noise_type, generate_noise)
        model.inference_type, model.noise_level_recon = "ddpm", t0
        maps, _, extras = model.get_anomaly(image)
        arrays[f"{name}_map"] = np.asarray(maps, np.float32)
        arrays[f"{name}_reconstruction"] = extras["x_rec"].numpy()
        assert draws == [t0, *range(t0, 0, -1)], draws[:3]  # the jump to T0, then the steps at t = T0 … 1
    commit = fixture.commit_of(checkout)
    description = {
        "what": "the THOR paper's DDPM and AnoDDPM baselines (partial-diffusion reconstruction, residual map) as "
        "the official code computes them, on the stubs of tests/thor_golden.py",
        "source": f"github.com/compai-lab/2024-miccai-bercea-thor at commit {commit} "
        "(model_zoo/ddpm.py DDPM.get_anomaly, sample_from_image, sample; net_utils/schedulers/ddpm.py)",
        "how": "get_anomaly(image) with inference_type 'ddpm' and noise_level_recon T0 (ddpm: 350, Gaussian; "
        "anoddpm: 250, simplex), its DDPMScheduler (1000 linear betas 1e-4..2e-2 in float32, epsilon, clip_sample "
        "to [-1, 1], fixed_small) for training and inference, StubDenoiser as the UNet, the image in [0, 1]; "
        "the k-th noise draw of a run (the jump to T0, then each reverse step's) = hashed_uniform(key + k), "
        "key 400000 for ddpm and 500000 for anoddpm; the map |x - x_rec| of the unclamped final sample",
        "arrays": "image; <run>_map, <run>_reconstruction (x_rec, unclamped) for ddpm and anoddpm",
    }
    fixture.write("ddpm-release", arrays, description, f"torch {torch.__version__.split('+')[0]}")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
