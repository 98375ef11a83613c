"""Clock reads that mean what they say on asynchronous devices."""

from __future__ import annotations

import torch


def synchronize(device: torch.device) -> None:
    """Wait for queued device work, so perf_counter brackets it (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
