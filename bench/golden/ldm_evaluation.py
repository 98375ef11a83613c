"""Make tests/methods/golden/ldm-release-evaluation.{npz,json}: the anomaly map of the LDM baseline
as Wolleb et al.'s released evaluation computes it (`main()` of `Bernoulli_Diffusion/scripts/
evaluation.py` in JuliaWolleb/Anomaly_berdiff at f1520fb, the last commit holding it beside
`ldm_sample.py`; both were deleted upstream later) on fixed reconstructions, for
`tests/methods/test_ldm.py`. The release is imported from a checkout given as the argument at that
commit (its code stays out of this project); modules it imports but `main()` never uses
(visdom, torcheval, guided_diffusion, hparams) are stubbed, and its AUPRC metric object is replaced by
a recorder of the map it is given (`prob`), its Dice by a recorder of the thresholded prediction.

The script reads pairs of NIfTI files: the input (four channels and the label) and the saved
reconstruction (the input's four channels, then the reconstruction's). One-channel images are
written as four identical channels: the release sums the four filtered squared errors, a factor of
4 that its percentile clip and min–max normalisation cancel exactly.

    .venv/bin/python bench/golden/ldm_evaluation.py BERDIFF_CHECKOUT   (checked out at f1520fb)
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import types
from pathlib import Path

import fixture
import nibabel as nib
import numpy as np

SIDE = 40


def inputs() -> dict[str, np.ndarray]:
    """Two 40×40 images in [0, 1] with a lesion each, reconstructions (the image with the lesion
    healed and noise), clamped to [0, 1] as the sampler's saving code does."""
    rng = np.random.default_rng(59)
    images = np.zeros((2, SIDE, SIDE), np.float32)
    images[:, 5:35, 6:34] = rng.uniform(0.3, 0.8, (2, 30, 28))
    labels = np.zeros(images.shape, np.float32)
    labels[0, 12:18, 10:17] = 1
    labels[1, 22:30, 20:24] = 1
    reconstructions = images.copy()
    reconstructions[labels > 0] = 0.55
    reconstructions = np.clip(reconstructions + rng.normal(0, 0.05, images.shape), 0, 1).astype(np.float32)
    return {"images": images, "labels": labels, "reconstructions": reconstructions}


def main(checkout: Path) -> None:
    recorded: dict[str, list[np.ndarray]] = {"prob": [], "pred": []}

    class RecordedAUPRC:
        def update(self, prob, target):
            recorded["prob"].append(prob.numpy().reshape(SIDE, SIDE).copy())

        def compute(self):
            return 0.0

        def reset(self):
            pass

    fixture.stub_module("visdom", Visdom=lambda **kwargs: None)
    fixture.stub_module("torcheval")
    fixture.stub_module("torcheval.metrics", BinaryAUPRC=RecordedAUPRC)
    fixture.stub_module("guided_diffusion")
    names = ("model_and_diffusion_defaults", "create_model_and_diffusion", "args_to_dict", "add_dict_to_argparser")
    fixture.stub_module("guided_diffusion.script_util", **{name: None for name in names})
    fixture.stub_module("hparams", get_sampler_hparams=None)
    script = checkout / "Bernoulli_Diffusion" / "scripts" / "evaluation.py"
    spec = importlib.util.spec_from_file_location("berdiff_evaluation", script)
    release = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(release)  # type: ignore[union-attr]
    dice = release.dice_score
    release.dice_score = lambda pred, targs: recorded["pred"].append(np.asarray(pred).copy()) or dice(pred, targs)

    arrays = inputs()
    with tempfile.TemporaryDirectory() as folder:
        saved, given = Path(folder, "saved"), Path(folder, "inputs")
        saved.mkdir(), given.mkdir()
        for index in range(2):
            four = np.repeat(arrays["images"][index][None], 4, axis=0)
            recon = np.repeat(arrays["reconstructions"][index][None], 4, axis=0)
            name = f"case{index}.nii.gz"  # no underscore: the script takes the name up to the first one
            nib.save(nib.Nifti1Image(np.concatenate([four, recon]), np.eye(4)), saved / name)
            label = arrays["labels"][index][None]
            nib.save(nib.Nifti1Image(np.concatenate([four, label]), np.eye(4)), given / name)
        release.PathDicomstripped, release.PathInput = f"{saved}/", str(given)

        def walk_sorted(top):  # the file system's order would decide which case comes first
            for root, folders, files in os.walk(top):
                yield root, sorted(folders), sorted(files)

        release.os = types.SimpleNamespace(walk=walk_sorted, path=os.path)
        release.main()
    assert len(recorded["prob"]) == 2
    arrays["map"] = np.stack(recorded["prob"]).astype(np.float32)
    arrays["prediction"] = np.stack(recorded["pred"]).astype(np.float32)
    commit = fixture.commit_of(checkout)
    description = {
        "what": "the LDM baseline's anomaly map as Wolleb et al.'s released evaluation computes it from an image "
        "and its saved reconstruction",
        "source": f"github.com/JuliaWolleb/Anomaly_berdiff at commit {commit} "
        "(Bernoulli_Diffusion/scripts/evaluation.py main(), the branch compute_ours=False; the sampler "
        "scripts/ldm_sample.py of the same commit: latents noised to t = 300, MONAI DDPMScheduler.step for "
        "t = 300 … 1, decode_stage_2_outputs; its map, clamp and saving lines follow a `continue` and never run)",
        "how": "main() over a folder of saved reconstructions and a folder of inputs written from the arrays (four "
        "identical channels each); prob = min-max normalised (clip(sum over channels of median5x5((recon - "
        "input)^2), 1st, 99th percentile)), recorded where the script hands it to its AUPRC metric; prediction = "
        "filter_2d_connected_components(prob > 0.5) (components of filled area <= 15 removed), recorded where it "
        "is handed to dice_score",
        "inputs": f"images 2x{SIDE}x{SIDE} in [0, 1] (tissue U(0.3, 0.8)), labels (a rectangle each), "
        "reconstructions (lesion healed to 0.55, + N(0, 0.05), clamped to [0, 1]); numpy default_rng(59); float32",
        "arrays": "images, labels, reconstructions, map (prob), prediction",
    }
    fixture.write("ldm-release-evaluation", arrays, description, "scipy and numpy of the project's environment")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
