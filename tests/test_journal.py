"""Integrity of run folders: kill-and-resume, one writer per folder, atomic writes, a full disk."""

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
from conftest import ddpm_request, ddpm_run

from anobench.errors import AnobenchError
from anobench.running.harness import run
from anobench.running.journal import RunLock
from anobench.store.atomic import atomic_write
from anobench.store.results import read_results

TIMING = ["seconds"]


def journalled_batches(out):
    """How many finished batches the journal of the run into `out` vouches for (committed chunks aside)."""
    return sum(len(path.read_text().splitlines()) for path in (out / "journal" / "run").glob("*.batches.jsonl"))


def request(checkpoint, out, **changes):
    """Batches of two, no latency probe: more batches to interrupt between."""
    return ddpm_request(checkpoint, out, **{"batch_size": 2, "latency_cases": 0, **changes})


def same_results(first, second):
    a, b = read_results(first), read_results(second)
    pd.testing.assert_frame_equal(a.rows.drop(columns=TIMING), b.rows.drop(columns=TIMING))
    np.testing.assert_array_equal(a.maps, b.maps)
    np.testing.assert_array_equal(a.reconstructions, b.reconstructions)


def test_an_interrupted_run_resumes_after_its_last_finished_batch(denoiser_checkpoint, tmp_path, monkeypatch):
    run(request(denoiser_checkpoint, tmp_path / "whole"))
    from anobench.methods import ddpm

    calls = {"n": 0}
    original = ddpm.DDPM.predict

    def interrupted(self, batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # as a Ctrl-C in the third batch
        return original(self, batch)

    monkeypatch.setattr(ddpm.DDPM, "predict", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(request(denoiser_checkpoint, tmp_path / "resumed"))
    assert journalled_batches(tmp_path / "resumed") == 2
    monkeypatch.setattr(ddpm.DDPM, "predict", original)
    run(request(denoiser_checkpoint, tmp_path / "resumed"))
    same_results(tmp_path / "whole", tmp_path / "resumed")
    provenance = json.loads((tmp_path / "resumed" / "provenance.json").read_text())
    assert provenance["timing"]["resumed_cases"] == 4 and not (tmp_path / "resumed" / "journal").exists()


def test_chunks_committed_before_an_interruption_are_kept_and_the_run_ends_as_an_uninterrupted_one(
    denoiser_checkpoint, tmp_path, monkeypatch
):
    from anobench.methods import ddpm
    from anobench.store import chunks

    monkeypatch.setattr(chunks, "CHUNK_BYTES", 64 * 64 * 4 * 4)  # a chunk of two batches of two 64² maps
    run(request(denoiser_checkpoint, tmp_path / "whole"))
    assert len(list((tmp_path / "whole" / "arrays" / "maps").glob("*.npy"))) == 3  # 12 cases, 4 per chunk
    calls = {"n": 0}
    original = ddpm.DDPM.predict

    def interrupted(self, batch):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # in the second chunk's second batch
        return original(self, batch)

    monkeypatch.setattr(ddpm.DDPM, "predict", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(request(denoiser_checkpoint, tmp_path / "resumed"))
    journal = tmp_path / "resumed" / "journal" / "run"
    assert [p.name for p in journal.glob("chunk-*.json")] == ["chunk-000000.json"]
    assert not (journal / "chunk-000000.batches.jsonl").exists()  # the committed chunk's batch records are gone
    assert [
        json.loads(line)["first"] for line in (journal / "chunk-000001.batches.jsonl").read_text().splitlines()
    ] == [4]
    monkeypatch.setattr(ddpm.DDPM, "predict", original)
    run(request(denoiser_checkpoint, tmp_path / "resumed"))
    same_results(tmp_path / "whole", tmp_path / "resumed")
    provenance = json.loads((tmp_path / "resumed" / "provenance.json").read_text())
    assert provenance["timing"]["resumed_cases"] == 6 and not journal.exists()


def test_a_journal_of_an_older_anobench_is_named_with_the_way_on(denoiser_checkpoint, tmp_path):
    journal = tmp_path / "r" / "journal" / "run"
    journal.mkdir(parents=True)
    (journal / "request.json").write_text(json.dumps({"method": "ddpm"}))  # no journal format: before chunks
    (journal / "batch-0000000.npz").write_bytes(b"")
    with pytest.raises(AnobenchError, match="interrupted run of an older anobench.*pass --overwrite"):
        run(request(denoiser_checkpoint, tmp_path / "r"))
    run(request(denoiser_checkpoint, tmp_path / "r", overwrite=True))


def test_a_journal_of_another_command_is_not_mixed_in(denoiser_checkpoint, tmp_path, monkeypatch):
    from anobench.methods import ddpm

    monkeypatch.setattr(ddpm.DDPM, "predict", lambda self, batch: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        run(request(denoiser_checkpoint, tmp_path / "r"))
    monkeypatch.undo()
    with pytest.raises(AnobenchError, match="interrupted run of another command.*--overwrite"):
        run(request(denoiser_checkpoint, tmp_path / "r", seed=1))
    run(request(denoiser_checkpoint, tmp_path / "r", seed=1, overwrite=True))


def run_words(checkpoint, phantom_words):
    """A CLI run of one case per batch on the first 4 cases of the small phantom."""
    options = "--batch-size 1 --limit 4 --latency-cases 0 --set t0=30 --set stride=10"
    return [*ddpm_run(checkpoint), *options.split(), *phantom_words("--data")]


# The run as `anobench` starts it, except that its second batch waits in DDPM's predict until signalled:
# the signal then lands in a run that has journalled one batch and cannot have ended, however loaded
# the machine (a run left to itself could finish between the test's check and its signal).
HELD_RUN = """
import sys, time
from anobench.cli import main
from anobench.methods import ddpm
original, calls = ddpm.DDPM.predict, []
def held(self, batch):
    calls.append(batch)
    if len(calls) == 2:
        time.sleep(600)
    return original(self, batch)
ddpm.DDPM.predict = held
sys.argv = ["anobench", *sys.argv[1:]]
main()
"""


def interrupted_after_a_batch(words, out, sent, stderr=subprocess.DEVNULL):
    """Start the run `words` into `out` held in its second batch, send it `sent` once the first batch
    is journalled; the signalled process."""
    process = subprocess.Popen(
        [sys.executable, "-c", HELD_RUN, *words, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not journalled_batches(out) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert journalled_batches(out) == 1, f"no batch journalled within 120 s (exit {process.poll()})"
    process.send_signal(sent)
    return process


def test_sigkill_then_the_same_command_ends_as_an_uninterrupted_run(cli, denoiser_checkpoint, tmp_path, phantom_words):
    words = run_words(denoiser_checkpoint, phantom_words)
    assert cli(*words, "--out", str(tmp_path / "whole")).returncode == 0
    out = tmp_path / "killed"
    assert interrupted_after_a_batch(words, out, signal.SIGKILL).wait(timeout=60) == -signal.SIGKILL
    assert journalled_batches(out) == 1 and not (out / "cases.parquet").exists()
    again = cli(*words, "--out", str(out))
    assert again.returncode == 0, again.stderr  # the killed run's lock died with it
    same_results(tmp_path / "whole", out)
    assert json.loads((out / "provenance.json").read_text())["timing"]["resumed_cases"] == 1


def test_a_second_writer_into_the_same_folder_is_refused(cli, denoiser_checkpoint, tmp_path, phantom_args):
    with RunLock(tmp_path / "busy", "run"):
        result = cli(
            *ddpm_run(denoiser_checkpoint),
            "--out",
            str(tmp_path / "busy"),
            *phantom_args,
        )
    assert result.returncode == 2 and f"another anobench run (pid {os.getpid()}) is writing into" in result.stderr
    assert not (tmp_path / "busy" / "cases.parquet").exists()


def test_a_killed_writer_leaves_the_old_file(tmp_path):
    target = tmp_path / "result.txt"
    target.write_text("old")
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from anobench.store.atomic import atomic_write
        def slow(path):
            path.write_text("half")
            time.sleep(60)
        atomic_write(Path({str(target)!r}), slow)
    """)
    process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(list(tmp_path.iterdir())) == 2, "the writer did not start its temporary file within 60 s"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert target.read_text() == "old"


def test_a_full_disk_is_one_clear_error_and_no_truncated_file(tmp_path):
    target = tmp_path / "cases.parquet"
    target.write_text("old")

    def full(path):
        path.write_text("partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(AnobenchError, match="no space left on the disk .* cases.parquet was left as it was"):
        atomic_write(target, full)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["cases.parquet"]
