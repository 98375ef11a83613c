"""Make tests/methods/golden/thor-release-chain.{npz,json}: THOR's guided reverse chain as the official
code computes it (`DDPM.sample_from_image_interpol` of model_zoo/ddpm.py in
compai-lab/2024-miccai-bercea-thor, with its own scheduler and map functions), on the stubs of
`tests/thor_golden.py`, for `tests/methods/test_thor_release_parity.py`. The release is imported from
a checkout given as the argument (its code stays out of this project); `wandb` is stubbed, `lpips`
answers with the stub LPIPS network, and `cv2` must be importable (`pip install --target DIR
opencv-python-headless`, then `PYTHONPATH=DIR`, without the numpy it brings).

    PYTHONPATH=CV2_DIR .venv/bin/python bench/golden/thor_chain.py THOR_CHECKOUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import fixture
import numpy as np
import torch

RUNS = {  # run → (T0, harmonization steps, the release's config it follows)
    "gaussian": (350, [300, 150, 50], "projects/thor/configs/brain/thor.yaml"),
    "simplex": (
        250,
        [200, 150, 100, 50],
        "projects/thor/configs/brain/thor_simplex.yaml (noise injected, so only T0 and H differ)",
    ),  # fmt: skip
}
VISUALIZATION = list(range(700, -1, -50))  # the release's t_visualization: 700, 650, …, 0


def main(checkout: Path) -> None:
    thor = fixture.thor_release(checkout)
    image = thor.golden.input_image()
    arrays = {"image": image.numpy()[0, 0]}
    for run, (t0, harmonization, _) in RUNS.items():
        calls: list[int | None] = []

        def generate_noise(kind, x, timestep=None, generator=None, calls=calls):
            calls.append(None if not calls else int(timestep))  # the first call is the initial ε
            return thor.golden.injected_noise(calls[-1])

        model = thor.model("gaussian", generate_noise)
        with torch.no_grad():
            final_state, extras = model.sample_from_image_interpol(
                image, t0, save_intermediates=True, t_harmonization=harmonization, t_visualization=VISUALIZATION
            )
        maps = [m.reshape(image.shape[-2:]).numpy() for m in extras["inter_res"]]
        arrays[f"{run}_maps"] = np.stack(maps[:-1]).astype(np.float32)
        arrays[f"{run}_final_map"] = np.clip(maps[-1], 0, 0.999).astype(np.float32)
        arrays[f"{run}_reconstruction"] = final_state.clamp(0, 1).numpy()[0, 0]
    commit = fixture.commit_of(checkout)
    description = {
        "what": "THOR's reverse chain as the official code computes it, on the stubs of tests/thor_golden.py",
        "source": f"github.com/compai-lab/2024-miccai-bercea-thor at commit {commit}",
        "how": "model_zoo.ddpm.DDPM.sample_from_image_interpol(inputs, noise_level, save_intermediates=True, "
        "t_harmonization=H, t_visualization=[700, 650, ..., 0]) with its own DDPMScheduler (1000 linear betas "
        "1e-4..2e-2, epsilon, clip_sample, fixed_small) as train and inference scheduler, StubDenoiser as its unet, "
        "StubLPIPS as its l_pips_sq, and generate_noise replaced by injected_noise (the first call, at noise_level, "
        "is the initial epsilon; each later call the reverse step's noise at its timestep); batch size 1, 32x32 "
        "input image from input_image(); final map = inter_res[-1] clipped to [0, 0.999], reconstruction = the final "
        "chain state clamped to [0, 1]",
        "runs": {
            run: {"noise_level": t0, "harmonization": h, "config": config} for run, (t0, h, config) in RUNS.items()
        },
        "arrays": "image; <run>_maps (every intermediate map a, in chain order), <run>_final_map, "
        "<run>_reconstruction; float32",
    }
    fixture.write("thor-release-chain", arrays, description, f"torch {torch.__version__.split('+')[0]}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
