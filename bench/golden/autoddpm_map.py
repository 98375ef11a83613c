"""Make tests/methods/golden/autoddpm-release.{npz,json}: AutoDDPM's map as the official code computes
it (`DDPM.get_autoDDPM_anomaly` in `model_zoo/ddpm.py` of ci-ber/autoDDPM, with its own scheduler,
residual, LPIPS call, mask, dilation and RePaint loop) on the stubs of `tests/thor_golden.py`, for
`tests/methods/test_autoddpm_release_parity.py`. The release is imported from a checkout given as
the argument (its code stays out of this project); its LPIPS network is the stub (ImageNet weights
cannot be fetched here) and `cv2` must be importable (`pip install --target DIR
opencv-python-headless`, then `PYTHONPATH=DIR`).

Every noise draw of the release (its `generate_noise` and `torch.randn_like`) is replaced by the
next of a fixed sequence (`thor_golden.hashed_uniform(NOISE_KEY + k)` for the k-th draw), so the
test can hand anobench the same draws in the same order.

    PYTHONPATH=CV2_DIR .venv/bin/python bench/golden/autoddpm_map.py AUTODDPM_CHECKOUT
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import fixture
import numpy as np
import torch

NOISE_KEY = 300_000
T0, RESAMPLE_FROM, REPEATS = 200, 50, 5


def main(checkout: Path) -> None:
    sys.path.insert(0, str(fixture.ROOT / "tests"))
    import thor_golden

    sys.path.insert(0, str(checkout))
    sys.modules["lpips"] = types.SimpleNamespace(LPIPS=lambda **kwargs: thor_golden.StubLPIPS())  # type: ignore[assignment]
    from model_zoo import ddpm as release
    from net_utils.schedulers import ddpm as release_scheduler

    draws: list[str] = []

    def next_noise(purpose: str) -> torch.Tensor:
        draws.append(purpose)
        return torch.from_numpy(thor_golden.hashed_uniform(NOISE_KEY + len(draws) - 1))[None, None]

    def generate_noise(noise_type, x, timestep=None, generator=None):
        return next_noise(f"generate_noise t={int(timestep)}")

    release.generate_noise = generate_noise
    release_scheduler.generate_noise = generate_noise
    randn_like = torch.randn_like
    torch.randn_like = lambda x, **kwargs: next_noise("randn_like")  # type: ignore[assignment]

    model = release.DDPM.__new__(release.DDPM)
    torch.nn.Module.__init__(model)
    model.unet = thor_golden.StubDenoiser()
    model.train_scheduler = release_scheduler.DDPMScheduler(num_train_timesteps=1000, noise_type="gaussian")
    model.inference_scheduler = release_scheduler.DDPMScheduler(num_train_timesteps=1000, noise_type="gaussian")
    model.inference_scheduler.set_timesteps(1000)
    model.device = torch.device("cpu")
    model.resample_steps, model.masking_threshold = REPEATS, -1  # -1: the only threshold the code runs with
    model.ano_map = release.AnomalyMap.__new__(release.AnomalyMap)
    model.ano_map.l_pips_sq = thor_golden.StubLPIPS()
    image = thor_golden.input_image()
    try:
        maps, scores, extras = model.get_autoDDPM_anomaly(
            image, noise_level_recon=T0, noise_level_inpaint=RESAMPLE_FROM
        )
    finally:
        torch.randn_like = randn_like
    arrays = {
        "image": image.numpy(),
        "map": np.asarray(maps, np.float32),
        "coarse": extras["x_rec_orig"].numpy(),
        "stage_one_map": extras["x_res_orig"].numpy(),
        "mask": extras["mask"].numpy(),
        "inpainted": extras["x_rec"].numpy(),
    }
    commit = fixture.commit_of(checkout)
    description = {
        "what": "AutoDDPM's anomaly map as the official code computes it, on the stubs of tests/thor_golden.py",
        "source": f"github.com/ci-ber/autoDDPM at commit {commit} (model_zoo/ddpm.py "
        "DDPM.get_autoDDPM_anomaly, sample_from_image, sample, AnomalyMap; net_utils/schedulers/ddpm.py DDPMScheduler)",
        "how": f"get_autoDDPM_anomaly(image, noise_level_recon={T0}, noise_level_inpaint={RESAMPLE_FROM}) with "
        f"resample_steps={REPEATS} and masking_threshold=-1 (a float threshold such as the config's 0.13 raises a "
        "TypeError at masking_threshold[i]); its DDPMScheduler (1000 linear betas 1e-4..2e-2 in float32, epsilon, "
        "clip_sample to [-1, 1], fixed_small) for training and inference; StubDenoiser as the UNet, StubLPIPS as "
        "l_pips_sq (called with 2x - 1 and normalize=True, as released); the k-th noise draw (generate_noise "
        f"or torch.randn_like, in the release's order) = hashed_uniform({NOISE_KEY} + k); the image in [0, 1] "
        "as the released evaluation feeds it; batch size 1",
        "draws": f"{len(draws)}: " + ", ".join(sorted({d.split(" t=")[0] for d in draws})),
        "arrays": "image, map, coarse (x_rec_orig: the coarse reconstruction clamped to [0, 1]), stage_one_map "
        "(x_res_orig: LPIPS x normalised residual), mask (dilated binary), inpainted (x_rec, before its clamp)",
    }
    fixture.write("autoddpm-release", arrays, description, f"torch {torch.__version__.split('+')[0]}")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
