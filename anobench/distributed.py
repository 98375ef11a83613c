"""torchrun support: the job a process was launched into, and its process group.

`torchrun --nproc-per-node N -m anobench run …` (or `train …`) starts N processes with RANK,
WORLD_SIZE and LOCAL_RANK in their environment. `anobench run` then scores case r, r+N, … on
rank r and rank 0 merges the shards once every rank has written its own (a barrier, not a race);
`anobench train` wraps the denoiser in DistributedDataParallel. The backend is gloo on CPUs and
NCCL on GPUs (rank r uses cuda:LOCAL_RANK).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported by the functions that need it: `launched` must stay cheap
    import torch


@dataclass(frozen=True)
class Launch:
    rank: int
    world_size: int
    local_rank: int


def launched() -> Launch | None:
    """The torchrun job this process belongs to, or None when it was started on its own."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1 or "RANK" not in os.environ:
        return None
    return Launch(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))


def device_for(launch: Launch, requested: str | None) -> str | None:
    """Each rank its own GPU (cuda:LOCAL_RANK) unless a device was asked for."""
    import torch

    if requested is None and torch.cuda.is_available():
        return f"cuda:{launch.local_rank}"
    return requested


def start(device: torch.device) -> None:
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def active() -> bool:
    """Whether this process is in a started process group (never before torch was imported)."""
    dist = sys.modules.get("torch.distributed")
    return dist is not None and dist.is_available() and dist.is_initialized()


def barrier() -> None:
    if active():
        sys.modules["torch.distributed"].barrier()


def stop() -> None:
    if active():
        sys.modules["torch.distributed"].destroy_process_group()
