"""Progress that tells the time: an estimate from the first update on (even minutes apart), elapsed
time, plain periodic lines when the output is not a terminal, and resumed items kept out of the rate."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from anobench import progress as progress_module
from anobench.progress import StageProgress, StageTimes


class Clock:
    """A perf_counter that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(progress_module.time, "perf_counter", fake)
    return fake


def plain_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=200), out


def test_estimate_exists_after_one_slow_batch_and_lines_come_at_the_interval(clock, monkeypatch):
    monkeypatch.setenv(progress_module.INTERVAL_VARIABLE, "30")
    console, out = plain_console()
    with StageProgress(console, "thor on brain-phantom:test", 32) as progress:
        for batch in range(1, 5):  # 8 cases per batch, 40 s each: rich's own estimate never appears at this rate
            clock.now += 40
            progress.update(8 * batch)
    lines = out.getvalue().splitlines()
    assert lines == [
        "thor on brain-phantom:test: 0/32 · 0:00:00 elapsed · estimating time left",
        "thor on brain-phantom:test: 8/32 · 0.20 img/s · 0:00:40 elapsed · ~0:02:00 left",
        "thor on brain-phantom:test: 16/32 · 0.20 img/s · 0:01:20 elapsed · ~0:01:20 left",
        "thor on brain-phantom:test: 24/32 · 0.20 img/s · 0:02:00 elapsed · ~0:00:40 left",
        "thor on brain-phantom:test: 32/32 · 0.20 img/s · 0:02:40 elapsed · done",
    ]


def test_quick_updates_give_a_start_and_an_end_line_only(clock, monkeypatch):
    monkeypatch.setenv(progress_module.INTERVAL_VARIABLE, "10")
    console, out = plain_console()
    with StageProgress(console, "train", 100, unit="step") as progress:
        for step in range(1, 101):
            clock.now += 0.05
            progress.update(step, f"loss {1 / step:.4f}")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("train: 0/100")
    assert lines[1] == "train: 100/100 · 20.00 step/s · 0:00:05 elapsed · done · loss 0.0100"


def test_resumed_items_count_as_done_but_not_into_the_rate(clock, monkeypatch):
    monkeypatch.setenv(progress_module.INTERVAL_VARIABLE, "0")
    console, out = plain_console()
    with StageProgress(console, "ddpm on atlas:test", 40) as progress:
        progress.update(20, resumed=True)  # taken over from an interrupted attempt, at once
        clock.now += 10
        progress.update(25)
    assert out.getvalue().splitlines() == [
        "ddpm on atlas:test: 0/40 · 0:00:00 elapsed · estimating time left",
        "ddpm on atlas:test: 20/40 · 0:00:00 elapsed · estimating time left",
        "ddpm on atlas:test: 25/40 · 0.50 img/s · 0:00:10 elapsed · ~0:00:30 left",
    ]


def test_terminal_bar_shows_elapsed_time_and_the_estimate(clock):
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160)
    with StageProgress(console, "thor on brain-phantom:test", 4) as progress:
        clock.now += 30
        progress.update(1)
        text = progress._timing()
    assert text == "0.03 img/s · 0:00:30 elapsed · ~0:01:30 left"
    assert "1/4\x1b[0m 0.03 img/s · 0:00:30 elapsed · ~0:01:30 left" in out.getvalue()


def test_stage_times_add_up_repeated_stages_in_first_run_order(clock):
    times = StageTimes()
    for name, seconds in (("setup", 2.0), ("scoring", 5.0), ("setup", 1.0)):
        with times.stage(name):
            clock.now += seconds
    assert times.seconds == {"setup": 3.0, "scoring": 5.0}
