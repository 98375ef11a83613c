"""Shared fixtures: a private cache, a small phantom, the shipped checkpoints (or zeroed copies)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    # torch in each worker (and the commands it starts) takes its share of the cores, not all of them:
    # threads of several workers fighting over two cores slow every tiny-model test
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    _share = _cores // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, _share)))

SMALL_PHANTOM = {"n_train": "24", "n_val": "4", "n_test_healthy": "4", "n_test": "12"}
FAST_DDPM = {"t0": "30", "stride": "10"}


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep generated phantoms out of the user's cache, and torch hub weights out of reach."""
    cache = tmp_path_factory.mktemp("cache")
    os.environ["ANOBENCH_CACHE"] = str(cache)
    os.environ["TORCH_HOME"] = str(cache / "torch")
    return cache


# The shipped cpu-small checkpoints of the brain phantom (3400 training steps each: the Gaussian one's ε̂
# is the true noise to an RMS error of 0.05 to 0.28, tests/test_acting_network.py), so that the tests of the
# methods see a network whose predictions matter. ANOBENCH_TEST_NETWORK=zero hands out copies with every
# weight zeroed instead: the tests marked `acting_network` must then fail (tests/test_acting_network.py).
SHIPPED_CHECKPOINTS = Path(__file__).resolve().parents[1] / "anobench" / "checkpoints"
ZERO_NETWORK = os.environ.get("ANOBENCH_TEST_NETWORK") == "zero"


def _shipped_copy(name: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the shipped checkpoint `name` (tests may not alter the package's file), zeroed
    under ANOBENCH_TEST_NETWORK=zero."""
    import shutil

    import torch

    out = tmp_path_factory.mktemp("checkpoint") / name
    if not ZERO_NETWORK:
        return Path(shutil.copyfile(SHIPPED_CHECKPOINTS / name, out))
    payload = torch.load(SHIPPED_CHECKPOINTS / name, map_location="cpu", weights_only=True)
    payload["model"] = {key: torch.zeros_like(value) for key, value in payload["model"].items()}
    torch.save(payload, out)
    return out


@pytest.fixture(scope="session")
def denoiser_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The brain phantom's Gaussian denoiser (full scheme)."""
    return _shipped_copy("brain-phantom-gaussian-cpu-small.pt", tmp_path_factory)


@pytest.fixture(scope="session")
def simplex_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The brain phantom's simplex-noise denoiser (full scheme)."""
    return _shipped_copy("brain-phantom-simplex-cpu-small.pt", tmp_path_factory)


@pytest.fixture(scope="session")
def patched_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pDDPM's denoiser (patched scheme, 2-D simplex noise)."""
    return _shipped_copy("brain-phantom-simplex-2d-patched-cpu-small.pt", tmp_path_factory)


@pytest.fixture(scope="session")
def dae_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The denoising autoencoder (dae scheme, coarse noise)."""
    return _shipped_copy("brain-phantom-coarse-dae-cpu-small.pt", tmp_path_factory)


@pytest.fixture(scope="session")
def conditioned_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cDDPM's denoiser (conditioned scheme, 2-D simplex noise)."""
    return _shipped_copy("brain-phantom-simplex-2d-conditioned-cpu-small.pt", tmp_path_factory)


@pytest.fixture(scope="session")
def latent_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The LDM (latent scheme: VQ-VAE, then a Gaussian denoiser of its latents)."""
    return _shipped_copy("brain-phantom-gaussian-latent-cpu-small.pt", tmp_path_factory)


def small_phantom_cases(split: str) -> list:
    """The cases of a split of the small phantom at 64×64 (generate it first: `small_phantom_generated`)."""
    from anobench import registry
    from anobench.api import DatasetContext, load_cases

    return load_cases(registry.datasets.get("brain-phantom").open(SMALL_PHANTOM, DatasetContext(image_size=64)), split)


def stacked_images(cases):
    """The cases' images as one batch tensor (B×1×H×W)."""
    import torch

    return torch.from_numpy(np.stack([case.image for case in cases]))[:, None]


@pytest.fixture(scope="session")
def lesion_slices(small_phantom_generated: Path):
    """The small phantom's first 4 test slices with a lesion: images (4×1×64×64 tensor in [0, 1]) and
    their lesion masks (4×64×64 booleans; 4, 16, 166 and 3 pixels)."""
    cases = [case for case in small_phantom_cases("test") if case.mask is not None and case.mask.any()][:4]
    return stacked_images(cases), np.stack([case.mask for case in cases])


# A map of the acting network ranks the lesions' pixels above the rest with a pixel AUROC of 0.88 to
# 0.99 on `lesion_slices` (DDPM from T0 = 10, 40 or 200, THOR from 20 or 100, AutoDDPM from 20, pDDPM:
# 0.90, 0.94, 0.98, 0.94, 0.99, 0.88, 0.99), a zeroed network's 0.05 to 0.67 (0.67, 0.65, 0.62, 0.59,
# 0.50, 0.46, 0.05): measured once, this bound sits between the two.
ACTING_AUROC = 0.85


def assert_finds_the_lesions(maps, masks: np.ndarray) -> None:
    """The maps (B×1×H×W) find the lesions as only a network whose predictions matter does."""
    from sklearn.metrics import roc_auc_score

    auroc = roc_auc_score(masks.ravel(), np.asarray(maps, dtype=np.float64).ravel())
    assert auroc >= ACTING_AUROC, f"pixel AUROC {auroc:.3f} on the lesion slices: the network does not act"


TINY_LATENT = {"scheme": "latent", "steps": 2, "autoencoder_steps": 2, "batch_size": 2, "save_every": 2}


@pytest.fixture(scope="session")
def fake_squeezenet_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A torchvision SqueezeNet 1.1 state dict (random, seeded) under the ImageNet weights' file name."""
    import torch
    import torchvision

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("trunk") / "squeezenet1_1-b8a52dc0.pth"
    torch.save(torchvision.models.squeezenet1_1().state_dict(), path)
    return path


def _run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anobench.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=600,
    )


@pytest.fixture
def cli():
    """Run the `anobench` command as a user would; returns the CompletedProcess."""
    return _run_cli


def assignments(flag: str, options: dict[str, str]) -> list[str]:
    words: list[str] = []
    for key, value in options.items():
        words += [flag, f"{key}={value}"]
    return words


# CLI words for a THOR run of a handful of calls and the light perceptual backend
FAST_THOR_WORDS = assignments("--set", {"t0": "20", "stride": "10", "harmonization": "10", "perceptual": "ssim"})


@pytest.fixture
def phantom_words(small_phantom_generated: Path):
    """CLI words for the small phantom's options after a flag: phantom_words("--data")."""
    return lambda flag: assignments(flag, SMALL_PHANTOM)


@pytest.fixture(scope="session")
def small_phantom_generated(private_cache: Path) -> Path:
    """The small phantom in the private cache, so that a command's stderr holds no first-use
    generation lines, whichever test of the worker runs first."""
    from anobench.config import build_config
    from anobench.datasets.brain_phantom import PhantomConfig, ensure

    return ensure(build_config(PhantomConfig, SMALL_PHANTOM))


@pytest.fixture
def phantom_args(small_phantom_generated: Path) -> list[str]:
    """CLI words selecting the small phantom (generated beforehand) and a fast DDPM chain."""
    return assignments("--data", SMALL_PHANTOM) + assignments("--set", FAST_DDPM)


SLOW_FIXTURES = {
    "cli",
    "denoiser_checkpoint",
    "simplex_checkpoint",
    "patched_checkpoint",
    "dae_checkpoint",
    "conditioned_checkpoint",
    "latent_checkpoint",
}
SLOW_MODULES = {
    "test_documented_commands",
    "test_example_plugin",
    "test_real_data_route",
    "test_distributed",
    "test_site",
    "test_acting_network",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `slow` tier: tests that run the command line, train or load a model, or run whole routes
    (`make test-fast` leaves them out; `make test` and CI run everything)."""
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or module in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


def ddpm_run(checkpoint: Path) -> list[str]:
    """The start of a CLI run of DDPM on the brain phantom with `checkpoint`, on the CPU whatever the
    machine has (the tests that compare runs byte for byte must not move to a GPU where one is present)."""
    return ["run", "--method", "ddpm", "--dataset", "brain-phantom", "--checkpoint", str(checkpoint), "--device", "cpu"]


def ddpm_request(checkpoint: Path, out: Path, **changes: object):
    """A fast DDPM run on the small phantom (`anobench.running.harness.RunRequest`), fields overridable."""
    from anobench.running.harness import RunRequest

    fields = dict(
        method="ddpm",
        dataset="brain-phantom",
        checkpoint=checkpoint,
        method_options=FAST_DDPM,
        dataset_options=SMALL_PHANTOM,
        batch_size=4,
        device="cpu",
        out=out,
    )
    return RunRequest(**{**fields, **changes})


def case_rows(cases: int, **columns: object) -> pd.DataFrame:
    """The per-case rows of a fabricated result set: case ids c0, c1, …, every column of a run's rows,
    `columns` overriding the defaults (a value, or one per case)."""
    from anobench.store.rows import ROW_COLUMNS

    defaults: dict[str, object] = {
        "index": range(cases),
        "case_id": [f"c{i}" for i in range(cases)],
        "subject_id": None,
        "lesion_pixels": 0,
        "size_bin": None,
        "score": 0.0,
        "nfe": 1,
        "seconds": 0.1,
        "batch_size": 1,
        "batch": 0,
        "slice_index": None,
    }
    values = {**defaults, **columns}
    return pd.DataFrame(
        {name: values[name] if np.ndim(values[name]) else [values[name]] * cases for name in ROW_COLUMNS}
    )


def fabricate_brain_run(
    folder: Path,
    method: str,
    quality: float,
    subjects: list[str] | None = None,
    healthy: bool = True,
    settings: dict[str, object] | None = None,
    restoration_error: float | None = None,
    dataset: str = "brain-phantom",
    dataset_options: dict[str, str] | None = None,
) -> None:
    """A finished run on 12 slices with one square lesion each; `quality` scales how much of the map is on
    the lesion; `settings`: the method settings its config records; `restoration_error`: its healthy
    cases keep their inputs (a bright disc on a zero background) and reconstructions off by that much
    on the disc (and by 0.5 in a corner of the background, which restoration measures leave out)."""
    from anobench.store import folder as store
    from anobench.store.results import CaseResults, write_results

    rng = np.random.default_rng(len(method))
    masks = np.zeros((12, 32, 32), bool)
    masks[:, 8:16, 8:16] = True
    maps = (rng.random((12, 32, 32)) * 0.4 + quality * masks * rng.random((12, 1, 1))).astype(np.float32)
    rows = case_rows(
        12,
        subject_id=subjects or [f"s{i}" for i in range(12)],
        lesion_pixels=64,
        size_bin="medium",
        score=maps.mean(axis=(1, 2)),
        nfe=10,
        batch_size=4,
    )
    write_results(folder, CaseResults(rows, maps, masks, None))
    if healthy:
        healthy_maps = (rng.random((6, 32, 32)) * 0.4).astype(np.float32)
        images = restored = None
        if restoration_error is not None:
            y, x = np.mgrid[:32, :32]
            disc = (y - 16) ** 2 + (x - 16) ** 2 < 100
            images = np.broadcast_to(np.where(disc, 0.3 + 0.02 * x, 0.0), (6, 32, 32)).astype(np.float16)
            restored = np.where(disc, images + restoration_error, 0.0)
            restored[:, :3, :3] = 0.5  # a corner of the background, beyond SSIM's window from the disc
            restored = restored.astype(np.float16)
        results = CaseResults(rows.iloc[:6], healthy_maps, None, restored, images=images)
        write_results(folder / store.HEALTHY, results)
    store.write_json(
        folder / store.CONFIG,
        {
            "method": method,
            "method_settings": settings or {},
            "dataset": dataset,
            "dataset_options": dataset_options or {},
            "split": "test",
            "healthy_split": "val" if healthy else None,
        },
    )
    store.write_json(folder / store.PROVENANCE, {"data_manifest": "m", "device": "cpu"})
    store.seal(folder)
