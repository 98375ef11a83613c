"""Make tests/golden/volume-protocol.{npz,json}: the released evaluation code of the Behrendt
repositories (pDDPM's `src/utils/utils_eval.py`) and of UAD-IMAG (`utils/evaluation.py`,
`utils/helpers.py`, `utils/metrics.py`) run once on fixed arrays, their numbers stored for
`tests/test_volume_golden.py`. The releases are imported from checkouts given as arguments (their
code stays out of this project); modules they import but these functions never use (wandb) are
stubbed.

    .venv/bin/python bench/golden/volume_protocol.py PDDPM_CHECKOUT UAD_IMAG_CHECKOUT
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parents[2] / "tests" / "golden"


def _load(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _commit(checkout: Path) -> str:
    done = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip()


def inputs() -> dict[str, np.ndarray]:
    """Two test volumes (50×50×8: a lesion each, maps brighter there), a brain mask, and healthy maps,
    continuous and quantised to 0.01 (the FPR rules behave differently on ties). 50 pixels wide, so
    the pDDPM release erodes the brain mask by 50 // 25 = 2 iterations (under 25 it would be 0, which
    scipy reads as "until nothing changes": an empty mask)."""
    rng = np.random.default_rng(31)
    shape = (2, 50, 50, 8)  # the releases' H × W × D order, subjects first
    brain = np.zeros(shape, bool)
    brain[:, 6:44, 8:42, 1:7] = True
    lesion = np.zeros(shape, bool)
    lesion[0, 15:22, 17:25, 2:5] = True
    lesion[1, 28:33, 10:14, 3:6] = True
    lesion[1, 40, 30, 4] = True  # a single voxel: a component the post-processing removes when found alone
    maps = (rng.gamma(2.0, 0.05, size=shape) * brain + lesion * rng.uniform(0.1, 0.5, size=shape)).astype(np.float32)
    maps[0, 35, 35, 5] = 0.9  # an isolated bright voxel in the brain: a 1-voxel false positive
    for offset in ((-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1), (1, 1, 0)):
        # 7 voxels round an empty centre, which reaches the border diagonally: its filled area stays 7, it goes
        maps[(0, 46 + offset[0], 4 + offset[1], 3 + offset[2])] = 0.9
    healthy = (rng.gamma(2.0, 0.05, size=(3, *shape[1:])) * brain[:1]).astype(np.float32)
    return {
        "maps": maps,
        "lesion": lesion,
        "brain": brain,
        "healthy": healthy,
        "healthy_quantised": np.round(healthy, 2).astype(np.float32),
    }


def main() -> None:
    pddpm, uad = Path(sys.argv[1]), Path(sys.argv[2])
    sys.modules.setdefault("wandb", types.ModuleType("wandb"))  # imported at the top, never used by these functions
    behrendt = _load(pddpm / "src" / "utils" / "utils_eval.py", "pddpm_utils_eval")
    sys.path.insert(0, str(uad))
    _load(uad / "utils" / "metrics.py", "utils.metrics")  # what helpers imports its dice and fpr from
    helpers = _load(uad / "utils" / "helpers.py", "utils.helpers")
    from sklearn.metrics import average_precision_score, roc_curve

    data = inputs()
    maps, lesion, brain = data["maps"], data["lesion"], data["brain"]
    out: dict[str, np.ndarray] = dict(data)
    # UAD-IMAG: median filter, per-subject Dice at a threshold, pooled AUPRC, FPR on healthy brain voxels
    out["uad_median"] = helpers.median_filter_3D(maps.copy(), 5)
    out["uad_dice_0.2"] = helpers.calc_indiv_dice(maps, lesion, 0.2)[1]
    out["uad_dice_median_0.2"] = helpers.calc_indiv_dice(out["uad_median"], lesion, 0.2)[1]
    out["uad_auprc"] = np.array(average_precision_score(lesion.ravel(), helpers.norm_ndarray(maps).ravel()))
    for name in ("healthy", "healthy_quantised"):
        values = data[name][np.broadcast_to(brain[:1], data[name].shape)]  # their healthy labels: True off the brain
        fpr, _, thresholds = roc_curve(np.zeros(values.size, bool), values)
        for target in (0.01, 0.05):
            tau = thresholds[fpr < target][-1]  # utils/evaluation.py, conf.eval.calc_thr
            out[f"uad_threshold_{name}_{target:g}"] = np.array(tau)
            out[f"uad_fpr_{name}_{target:g}"] = np.array(helpers.calc_fpr(values, np.zeros(values.size, bool), tau))
    # Behrendt (pDDPM): brain mask eroded slice by slice, 3-D median, CC removal, Dice, AUPRC, FPR thresholds
    masked = behrendt.apply_brainmask_volume(torch.from_numpy(maps[0].copy()), torch.from_numpy(brain[0].copy()))
    out["behrendt_masked"] = masked.numpy()
    out["behrendt_median"] = behrendt.apply_3d_median_filter(maps[0].copy(), kernelsize=5)
    segmentation = maps[0] > 0.2  # raw: isolated voxels above it, components the release removes
    out["behrendt_segmentation"] = segmentation
    out["behrendt_components"] = behrendt.filter_3d_connected_components(segmentation.copy())
    out["behrendt_dice"] = np.array(behrendt.dice(out["behrendt_components"], lesion[0]))
    out["behrendt_auprc"] = np.array(behrendt.compute_prc(out["behrendt_median"].flatten(), lesion[0].flatten())[0])
    for name in ("healthy", "healthy_quantised"):
        volumes = data[name] * brain[:1]  # the masked volumes, background included, as the release pools them
        _, fpr, _, thresholds = behrendt.compute_roc(volumes.flatten(), np.zeros(volumes.size, int))
        for target in (0.01, 0.05):
            out[f"behrendt_threshold_{name}_{target:g}"] = np.array(thresholds[np.argmax(fpr > target)])
    np.savez_compressed(OUT / "volume-protocol.npz", **out)
    description = {
        "what": "the released evaluation code's per-volume measures on fixed volumes: 3-D median filter, small-"
        "component removal, per-subject Dice, AUPRC, brain-mask erosion and the thresholds at a false-positive "
        "rate on healthy voxels",
        "source": {
            "pDDPM": f"github.com/FinnBehrendt/patched-Diffusion-Models-UAD at commit {_commit(pddpm)} "
            "(src/utils/utils_eval.py: apply_brainmask_volume, apply_3d_median_filter, "
            "filter_3d_connected_components, dice, compute_prc, compute_roc and _test_end's thresh_1p / thresh_5p)",
            "UAD-IMAG": f"github.com/AlexanderFrotscher/UAD-IMAG at commit {_commit(uad)} (utils/helpers.py: "
            "median_filter_3D, calc_indiv_dice, calc_fpr, norm_ndarray; utils/metrics.py dice, fpr; "
            "utils/evaluation.py: AUPRC and the FPR threshold thresholds[fpr < max_fpr][-1])",
        },
        "inputs": "inputs() of this script: numpy default_rng(31); volumes H×W×D = 50×50×8, subjects first",
        "arrays": sorted(out),
        "command": "python bench/golden/volume_protocol.py PDDPM_CHECKOUT UAD_IMAG_CHECKOUT",
        "made": "2026-12-07, numpy " + np.__version__ + ", torch " + torch.__version__,
    }
    (OUT / "volume-protocol.json").write_text(json.dumps(description, indent=1) + "\n")
    print(f"wrote {OUT / 'volume-protocol.npz'}")


if __name__ == "__main__":
    main()
