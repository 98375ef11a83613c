"""Make tests/methods/golden/dae-release-map.{npz,json}: the DAE's anomaly map as the official code
computes it (`get_scores` of `denoising` in src/denoising.py of AntanasKascenas/DenoisingAE, with
`median_pool` of src/utilities.py), on a fixed image and a fixed stub reconstruction, for
`tests/methods/test_dae.py`. The release is imported from a checkout given as the argument (its
code stays out of this project); its hard-coded CUDA device is read as the CPU, and TensorBoard,
which the scoring path never writes to, is stubbed.

    .venv/bin/python bench/golden/dae_map.py DENOISINGAE_CHECKOUT
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import fixture
import numpy as np
import torch


def inputs() -> tuple[np.ndarray, np.ndarray]:
    """clean: 2x1x24x24, zero background, a block of U(0.05, 0.95); reconstruction: clean + N(0, 0.1)."""
    rng = np.random.default_rng(7)
    clean = np.zeros((2, 1, 24, 24), np.float32)
    clean[:, :, 3:21, 4:20] = np.float32(0.05) + np.float32(0.9) * rng.random((2, 1, 18, 16)).astype(np.float32)
    reconstruction = (clean + rng.normal(0, 0.1, size=clean.shape)).astype(np.float32)
    return clean, reconstruction


class OnTheCPU(types.ModuleType):
    """The torch module as the release's module sees it, its `torch.device("cuda")` the CPU."""

    def __init__(self) -> None:
        super().__init__("torch")

    def __getattr__(self, name: str) -> object:
        return (lambda *_: torch.device("cpu")) if name == "device" else getattr(torch, name)


def main(checkout: Path) -> None:
    fixture.stub_module("torch.utils.tensorboard", SummaryWriter=object)
    sys.path.insert(0, str(checkout / "src"))
    import denoising

    denoising.torch = OnTheCPU()
    clean, reconstruction = inputs()
    trainer = denoising.denoising("golden", data=None, lr=1e-4, depth=4, wf=6, noise_std=0.2, noise_res=16)
    trainer.model = lambda images: torch.from_numpy(reconstruction)  # the stub network's answer
    trainer.model.eval = lambda: trainer.model
    scores = trainer.get_scores(trainer, [torch.from_numpy(clean)], median_f=True)
    arrays = {"clean": clean, "reconstruction": reconstruction, "map": scores.numpy().astype(np.float32)}
    commit = fixture.commit_of(checkout)
    description = {
        "what": "the DAE's anomaly map as the official code computes it, for a fixed image and a fixed stub "
        "reconstruction",
        "source": f"github.com/AntanasKascenas/DenoisingAE at commit {commit} (src/denoising.py, src/utilities.py)",
        "how": "trainer = denoising('golden', data=None, lr=1e-4, depth=4, wf=6, noise_std=0.2, noise_res=16) with "
        "its torch.device('cuda') read as 'cpu', trainer.model replaced by a stub returning `reconstruction`, then "
        "trainer.get_scores(trainer, [clean]) with median_f=True (foreground > 0.01 eroded by avg_pool 5x5 > 0.95, "
        "|clean - reconstruction| inside it, median_pool 5x5 with reflect padding)",
        "inputs": "clean: 2x1x24x24, zero background, rows 3..20 and columns 4..19 0.05 + 0.9 u in float32, u "
        "drawn with numpy default_rng(7); reconstruction: clean + N(0, 0.1) from the same generator; float32",
        "arrays": "clean, reconstruction, map (2x1x24x24 float32)",
    }
    fixture.write("dae-release-map", arrays, description, f"torch {torch.__version__.split('+')[0]}")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
