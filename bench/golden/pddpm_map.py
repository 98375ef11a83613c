"""Make tests/methods/golden/pddpm-release.{npz,json}: pDDPM's released inference
(`DDPM_2D.test_step` in `src/models/DDPM_2D_patched.py` of FinnBehrendt/patched-Diffusion-Models-UAD, with its
`GaussianDiffusion` and `BoxSampler`) run once on fixed slices with a stub network and injected
noise, for `tests/methods/test_pddpm_release_parity.py`. The release is imported from a checkout
given as the argument (its code stays out of this project); modules it imports but this path never
uses (lightning, torchio, wandb, ema_pytorch, accelerate, numba) are stubbed.

    .venv/bin/python bench/golden/pddpm_map.py PDDPM_CHECKOUT
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import fixture
import numpy as np
import torch

SIDE, PATCH, DEPTH = 40, 16, 2


def stub_modules() -> None:
    """Modules the release imports at the top of files whose other functions need them."""

    identity = lambda *args, **kwargs: lambda function: function  # noqa: E731 (numba's decorators)
    fixture.stub_module("numba", njit=identity, prange=range)
    fixture.stub_module("ema_pytorch", EMA=object)
    fixture.stub_module("accelerate", Accelerator=object)
    fixture.stub_module("wandb")
    fixture.stub_module("torchio", DATA="data")
    fixture.stub_module("pytorch_lightning")
    fixture.stub_module("pytorch_lightning.core")
    fixture.stub_module("pytorch_lightning.core.lightning", LightningModule=torch.nn.Module)


def stub_network(x: torch.Tensor, t: torch.Tensor, cond: object = None) -> torch.Tensor:
    """Deterministic x0 'prediction' in the network's [-1, 1] units: a 3×3 mean (so a cell's
    prediction sees its clean context), overshooting the range in bright pixels (the release does not
    clamp x0 before the residual)."""
    smoothed = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    return 1.1 * smoothed + 0.15 - 0.0003 * t.float()[:, None, None, None]


def inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(17)
    clean = np.zeros((DEPTH, 1, SIDE, SIDE), np.float32)
    clean[:, :, 5:35, 4:36] = rng.uniform(0.1, 0.95, size=(DEPTH, 1, 30, 32))
    noise = rng.standard_normal((SIDE, SIDE)).astype(np.float32)  # one field for every slice, as released
    return {"clean": clean, "noise": noise}


def released_reconstruction(
    checkout: Path, clean: np.ndarray, noise: np.ndarray, overlap: bool, mode: str
) -> np.ndarray:
    from src.models import DDPM_2D_patched as release
    from src.models.modules.cond_DDPM import GaussianDiffusion
    from src.utils.patch_sampling import BoxSampler

    cfg = {"noisetype": "simplex", "patch_size": PATCH, "overlap": overlap, "agg_overlap": mode}

    class Config(dict):
        def __getattr__(self, name: str) -> object:
            return self[name]

    config = Config(cfg)
    captured: list[torch.Tensor] = []
    release.gen_noise = lambda cfg, shape: torch.from_numpy(noise).expand(shape).half()  # the release's fp16 cast
    release._test_step = lambda self, final_volume, *args: captured.append(final_volume)
    diffusion = GaussianDiffusion(
        stub_network,
        image_size=(SIDE, SIDE),
        timesteps=1000,
        objective="pred_x0",
        channels=1,
        loss_type="l1",
        cfg=config,
    )
    host = types.SimpleNamespace(
        cfg=config, diffusion=diffusion, boxes=BoxSampler(config), device="cpu", test_timesteps=500,
        latentSpace_slice=[], eval_dict={"latentSpace": [], "AnomalyScoreRegPerVol": [], "AnomalyScoreRecoPerVol": [],
                                          "AnomalyScoreCombPerVol": []},
    )  # fmt: skip
    volume = torch.from_numpy(clean).permute(1, 2, 3, 0)[None]  # D×1×H×W → 1×1×H×W×D, the release's layout
    batch = {"Dataset": "golden", "vol": {"data": volume}, "vol_orig": {"data": volume}, "seg_available": False,
             "mask_orig": {"data": volume > 0}, "ID": ["g"], "age": [0], "stage": "test", "label": [0]}  # fmt: skip
    with torch.no_grad():
        release.DDPM_2D.test_step(host, batch, 0)
    final = captured[0].squeeze(0).squeeze(0)  # H×W×D
    return final.permute(2, 0, 1)[:, None].numpy()  # back to D×1×H×W


def main(checkout: Path) -> None:
    sys.path.insert(0, str(checkout))
    stub_modules()
    from src.models.modules.cond_DDPM import GaussianDiffusion

    arrays = inputs()
    schedule = GaussianDiffusion(stub_network, image_size=(SIDE, SIDE), timesteps=1000, objective="pred_x0", channels=1)
    arrays["alphas_cumprod"] = schedule.alphas_cumprod.float().numpy()[[499]]
    for name, overlap, mode in (("truncate", False, "cut"), ("cut", True, "cut"), ("avg", True, "avg")):
        reconstruction = released_reconstruction(checkout, arrays["clean"], arrays["noise"], overlap, mode)
        arrays[f"{name}_reconstruction"] = reconstruction.astype(np.float32)
        arrays[f"{name}_map"] = np.abs(arrays["clean"] - reconstruction).astype(
            np.float32
        )  # _test_step, residualmode l1
    commit = fixture.commit_of(checkout)
    description = {
        "what": "pDDPM's patched reconstruction and residual map as the official code computes them, "
        "for fixed slices and fixed noise",
        "source": f"github.com/FinnBehrendt/patched-Diffusion-Models-UAD at commit {commit} "
        "(src/models/DDPM_2D_patched.py DDPM_2D.test_step, src/models/modules/cond_DDPM.py GaussianDiffusion, "
        "src/utils/patch_sampling.py BoxSampler)",
        "how": f"GaussianDiffusion(stub, image_size=({SIDE}, {SIDE}), timesteps=1000, objective='pred_x0', "
        "channels=1, loss_type='l1') (cosine schedule); test_step on a host object with test_timesteps=500 "
        f"(noise index 499), patch_size={PATCH}; overlap False ('truncate': the plain grid, edge cells cut at "
        "the border), overlap True with agg_overlap 'cut' and 'avg'; gen_noise replaced by the fixed field, "
        "cast to float16 as the release's gen_noise does; _test_step replaced by a recorder of final_volume; "
        "map = |clean - final_volume| as _test_step computes it (residualmode l1), before its brain mask, "
        "median filter and resizing. The stub network returns 1.1 mean3x3(x_t) + 0.15 - 0.0003 t in [-1, 1] "
        "units (avg_pool2d, count_include_pad False); it overshoots the range: the release does not clamp x0",
        "inputs": f"clean: {DEPTH}x1x{SIDE}x{SIDE} slices of one volume in [0, 1], zero background, rows "
        "5..34 and columns 4..35 drawn U(0.1, 0.95) with numpy default_rng(17); noise: one float32 N(0, 1) "
        "field from the same generator",
        "arrays": "clean, noise, alphas_cumprod (ᾱ at index 499), <mode>_reconstruction and <mode>_map for "
        "truncate, cut and avg (the release's avg divides by the overlap count after every box)",
    }
    fixture.write("pddpm-release", arrays, description, f"torch {torch.__version__.split('+')[0]}")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
