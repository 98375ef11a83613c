"""Choosing the compute device, and clock reads that mean what they say on asynchronous ones."""

from __future__ import annotations

import time

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


class Stopwatch:
    """Seconds of work between `start()` and `stop()`: CUDA events on a GPU (the time the device
    spent, read after it finished), perf_counter on the CPU."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def start(self) -> None:
        if self.device.type == "cuda":
            self._begin, self._end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            self._begin.record()
        else:
            self._started = time.perf_counter()

    def stop(self) -> float:
        if self.device.type == "cuda":
            self._end.record()
            self._end.synchronize()
            return self._begin.elapsed_time(self._end) / 1000.0
        return time.perf_counter() - self._started


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> dict[str, float | str]:
    """The peak memory of this run: CUDA memory allocated by torch on a GPU, else the process's
    peak resident set (everything the process holds, since it started)."""
    if device.type == "cuda":
        return {"bytes": float(torch.cuda.max_memory_allocated(device)), "kind": "cuda allocated"}
    import resource

    kilobytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"bytes": float(kilobytes) * 1024, "kind": "process peak RSS"}
