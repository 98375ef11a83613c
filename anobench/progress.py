"""Progress of long stages that tells the time, on a terminal and in a log file alike.

On a terminal a stage is a rich bar with its elapsed time and an estimate of the time left; when the
output is not a terminal (redirected to a file, a batch job's log) it is a plain line at the stage's
start, at most every `interval_seconds()` while it runs (the first one after its first update), and
at its end. The estimate is the stage's own average rate since it started (items done here over the
seconds since), so it exists from the first update on — rich's own estimate averages over the last
30 s and stays blank when updates come further apart, as a diffusion batch on a CPU does.
Items taken over from an interrupted attempt (a resumed journal) count as done, not into the rate.
"""

from __future__ import annotations

import contextlib
import os
import time
from datetime import timedelta
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

INTERVAL_VARIABLE = "ANOBENCH_PROGRESS_SECONDS"  # seconds between plain progress lines (default 10)


def interval_seconds() -> float:
    return float(os.environ.get(INTERVAL_VARIABLE, "10"))


def clock(seconds: float) -> str:
    """0:01:05 for 65 seconds (whole seconds)."""
    return str(timedelta(seconds=round(seconds)))


class StageProgress:
    """One stage of `total` items: `update(done, …)` after each step, as a context manager."""

    def __init__(self, console: Console, description: str, total: int, unit: str = "img", done: int = 0) -> None:
        self.console, self.description, self.total, self.unit = console, description, total, unit
        self.started = self.last_line = time.perf_counter()
        self.first, self.done, self.details = done, done, ""
        self.lined = -1  # items done at the last plain line
        self.bar: Progress | None = None
        if console.is_terminal:
            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[timing]}"),
                console=console,
            )
            self.task = self.bar.add_task(description, total=total, completed=done, timing=self._timing())

    def __enter__(self) -> StageProgress:
        if self.bar is not None:
            self.bar.start()
        else:
            self._line()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.update(self.task, timing=self._timing())
            self.bar.stop()
        elif exc[0] is None and self.lined != self.done:
            self._line()

    def update(self, done: int, details: str = "", resumed: bool = False) -> None:
        """`done` items of `total` now; `details` (e.g. the loss) is shown beside the timing. `resumed`:
        the items were taken over, not done here (they do not count into the rate)."""
        if resumed:
            self.first += done - self.done
        self.done, self.details = done, details
        if self.bar is not None:
            self.bar.update(self.task, completed=done, timing=self._timing())
        elif time.perf_counter() - self.last_line >= interval_seconds() or done == self.total:
            self._line()

    def rate(self) -> float | None:
        """Items per second done in this stage (None before the first)."""
        elapsed = time.perf_counter() - self.started
        return (self.done - self.first) / elapsed if self.done > self.first and elapsed > 0 else None

    def _timing(self) -> str:
        elapsed = time.perf_counter() - self.started
        rate = self.rate()
        if self.done >= self.total:
            left = "done"
        elif rate is None:
            left = "estimating time left"
        else:
            left = f"~{clock((self.total - self.done) / rate)} left"
        speed = "" if rate is None else f"{rate:.2f} {self.unit}/s · "
        details = f" · {self.details}" if self.details else ""
        return f"{speed}{clock(elapsed)} elapsed · {left}{details}"

    def _line(self) -> None:
        self.last_line, self.lined = time.perf_counter(), self.done
        text = f"{self.description}: {self.done}/{self.total} · {self._timing()}"
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def activity(console: Console, text: str) -> Iterator[None]:
    """A stage of unknown length: a spinner on a terminal, one line otherwise."""
    if console.is_terminal:
        with console.status(text):
            yield
    else:
        console.print(f"{text}…", markup=False, highlight=False, soft_wrap=True)
        yield


class StageTimes:
    """Seconds per named stage, in the order they first ran (a command's summary)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
