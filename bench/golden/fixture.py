"""What every golden script shares: the commit of the release checkout it ran, stubs for modules a
release imports but the code path never uses, and writing the arrays with the JSON that names the
repository, commit, files and functions (numbers only: the release's code stays out of anobench)."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
METHOD_GOLDEN = ROOT / "tests" / "methods" / "golden"


def commit_of(checkout: Path) -> str:
    """The full commit the checkout stands at."""
    done = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip()


def stub_module(name: str, **attributes: object) -> None:
    """An importable module holding `attributes` (for imports the golden path never uses)."""
    stub = types.ModuleType(name)
    stub.__dict__.update(attributes)
    sys.modules[name] = stub


def command_of(script: str) -> str:
    """The command that remakes a fixture: the usage line of its script's docstring."""
    usage = [line.strip() for line in (sys.modules[script].__doc__ or "").splitlines() if "bench/golden/" in line]
    return usage[-1].split("  ")[0].replace(".venv/bin/python", "python") if usage else ""  # a note after two spaces


def write(name: str, arrays: dict[str, np.ndarray], description: dict[str, object], versions: str) -> None:
    """tests/methods/golden/NAME.npz and NAME.json; the JSON adds the command that remakes them (the
    script's usage line) and `made`, the day (UTC) and `versions`."""
    METHOD_GOLDEN.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(METHOD_GOLDEN / f"{name}.npz", **arrays)
    made = f"{datetime.now(timezone.utc):%Y-%m-%d}, {versions}, CPU"
    record = {**description, "command": command_of("__main__"), "made": made}
    text = json.dumps(record, indent=2, ensure_ascii=False)
    (METHOD_GOLDEN / f"{name}.json").write_text(text + "\n")


def thor_release(checkout: Path) -> types.SimpleNamespace:
    """The THOR release's `model_zoo.ddpm` and `net_utils.schedulers.ddpm` imported from `checkout`
    (wandb stubbed, lpips answering with the stub LPIPS), with `tests/thor_golden.py`'s stubs, and
    `model(noise_type, generate_noise)`: a release DDPM on the stub denoiser and LPIPS, its 1000-step
    schedulers drawing every noise from `generate_noise`."""
    sys.path.insert(0, str(ROOT / "tests"))
    import thor_golden
    import torch

    sys.path.insert(0, str(checkout))
    stub_module("wandb")
    sys.modules["lpips"] = types.SimpleNamespace(LPIPS=lambda **kwargs: thor_golden.StubLPIPS())  # type: ignore[assignment]
    from model_zoo import ddpm as release
    from net_utils.schedulers import ddpm as release_scheduler

    def model(noise_type: str, generate_noise: object) -> object:
        release.generate_noise = generate_noise
        release_scheduler.generate_noise = generate_noise
        ddpm = release.DDPM.__new__(release.DDPM)
        torch.nn.Module.__init__(ddpm)
        ddpm.unet, ddpm.l_pips_sq = thor_golden.StubDenoiser(), thor_golden.StubLPIPS()
        ddpm.device, ddpm.img_ct = torch.device("cpu"), 0
        ddpm.train_scheduler = release_scheduler.DDPMScheduler(num_train_timesteps=1000, noise_type=noise_type)
        ddpm.inference_scheduler = release_scheduler.DDPMScheduler(num_train_timesteps=1000, noise_type=noise_type)
        ddpm.inference_scheduler.set_timesteps(1000)
        return ddpm

    return types.SimpleNamespace(golden=thor_golden, model=model)
