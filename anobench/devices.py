"""Choosing the compute device, and clock reads that mean what they say on asynchronous ones."""

from __future__ import annotations

import torch

from anobench.errors import AnobenchError


def select_device(requested: str | None) -> torch.device:
    """The device asked for (a clear error if CUDA is asked for but absent); default: CUDA if any."""
    if requested is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise AnobenchError(f"device {requested!r} was asked for but torch sees no CUDA device")
    return torch.device(requested)


def synchronize(device: torch.device) -> None:
    """Wait for queued device work, so perf_counter brackets it (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
