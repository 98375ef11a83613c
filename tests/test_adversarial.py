"""The adversarial battery: every bad input one clear line (exit 2, nothing written), no result lost
or invented, a plugin contract that defends itself. Cases already handled stay here so they stay so."""

import errno
import hashlib
import json
import os
import pickle
import signal
import subprocess

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import SMALL_PHANTOM, ddpm_run, fabricate_brain_run
from test_cli import assert_user_error
from test_journal import interrupted_after_a_batch, request, run_words, same_results
from test_registry import make_distribution

from anobench.errors import AnobenchError
from anobench.running.harness import run
from anobench.store import chunks
from anobench.store import folder as store
from anobench.store.rows import CASES


def digest(folder):
    """sha256 of every file of a published result set (what a reader sees)."""
    listed = json.loads((folder / store.RESULT_SET).read_text())["files"]
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in listed}


# ---- bad inputs: one line, exit 2, nothing written -------------------------------------------------


@pytest.mark.parametrize(
    "words, fragment",
    [
        (["--set", "stride=0"], "stride='0': must be at least 1"),
        (["--set", "t0=0"], "t0='0': must be between 1 and 999"),
        (["--set", "t0=5000"], "must be between 1 and 999"),
        (["--limit", "0"], "--limit must be at least 1"),
        (["--limit", "-1"], "--limit must be at least 1"),
        (["--batch-size", "0"], "batch size must be at least 1"),
    ],
)
def test_a_bad_number_is_refused_before_anything_is_written(
    cli, denoiser_checkpoint, tmp_path, phantom_words, words, fragment
):
    out = tmp_path / "never"
    result = cli(
        *ddpm_run(denoiser_checkpoint),
        "--out",
        str(out),
        *phantom_words("--data"),
        *words,
    )
    assert_user_error(result, fragment)
    assert not out.exists() or not any(p.name.endswith((".parquet", ".npz", ".json")) for p in out.rglob("*"))


def test_checkpoints_that_are_not_ours_are_named_without_unsafe_advice(
    cli, denoiser_checkpoint, tmp_path, phantom_args
):
    payload = torch.load(denoiser_checkpoint, weights_only=True)
    without_config = tmp_path / "no-config.pt"
    torch.save({key: value for key, value in payload.items() if key != "config"}, without_config)
    random_bytes = tmp_path / "random.pt"
    random_bytes.write_bytes(np.random.default_rng(0).bytes(4096))
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    malicious = tmp_path / "malicious.pt"
    with open(malicious, "wb") as handle:
        pickle.dump({"format": "anobench-checkpoint", "model": Exploit()}, handle)
    folder = tmp_path / "a-folder.pt"
    folder.mkdir()
    expected = {
        without_config: "lacks its config",
        random_bytes: "corrupt",
        malicious: "refuses to unpickle",
        folder: "is a directory",
    }
    for checkpoint, fragment in expected.items():
        result = cli(
            *ddpm_run(checkpoint),
            "--out",
            str(tmp_path / "r"),
            *phantom_args,
        )
        assert_user_error(result, checkpoint.name, fragment)
        assert "weights_only=False" not in result.stderr and "trust" not in result.stderr
    assert not marker.exists()


def test_label_and_list_files_that_are_not_utf8_or_hold_impossible_boxes(tmp_path):
    from anobench.datasets.png_slices import read_filename_csv
    from anobench.datasets.wrist import read_yolo_labels

    latin = tmp_path / "labels.txt"
    latin.write_bytes("3 0.5 0.5 0.1 0.1 # Gelenk\xe4\n".encode("latin-1"))
    with pytest.raises(AnobenchError, match="is not UTF-8 text"):
        read_yolo_labels(latin)
    for line, fragment in (
        ("3 0.95 0.5 0.2 0.1", "reaches outside the image"),
        ("3 0.5 0.5 0 0.1", "has no extent"),
        ("3 0.05 0.5 0.2 0.1", "reaches outside the image"),
    ):
        label = tmp_path / "box.txt"
        label.write_text(line + "\n")
        with pytest.raises(AnobenchError, match=fragment):
            read_yolo_labels(label)
    edge = tmp_path / "edge.txt"
    edge.write_text("3 0.95 0.5 0.1 0.1\n")  # touches the right edge exactly: a real box
    assert len(read_yolo_labels(edge)) == 1
    header_only = tmp_path / "split.csv"
    header_only.write_text("filename\n")
    with pytest.raises(AnobenchError, match="lists no file"):
        read_filename_csv(header_only)
    header_only.write_bytes(b"filename\nbild\xfc.png\n")
    with pytest.raises(AnobenchError, match="not UTF-8"):
        read_filename_csv(header_only)


# ---- run folders: atomic, never half-read ------------------------------------------------------------


def maps_chunk(folder):
    """The first chunk file of a run's maps."""
    return chunks.chunk_path(folder / chunks.ARRAYS, "maps", 0)


def test_damaged_run_folders_are_named_by_compare(cli, tmp_path):
    damage = {
        "truncated-rows": lambda f: (f / CASES).write_bytes((f / CASES).read_bytes()[:100]),
        "truncated-maps": lambda f: maps_chunk(f).write_bytes(maps_chunk(f).read_bytes()[:500]),
        "config-not-json": lambda f: (f / store.CONFIG).write_text("{method: ddpm"),
        "rows-missing-columns": lambda f: pd.read_parquet(f / CASES).drop(columns=["size_bin"]).to_parquet(f / CASES),
    }
    for name, spoil in damage.items():
        folder = tmp_path / name
        fabricate_brain_run(folder, "m", 1.0)
        spoil(folder)
        assert_user_error(cli("compare", str(folder), "--out-dir", str(tmp_path / "boards")), str(folder), "damaged")
        store.seal(folder)  # the same damage, published as if whole: the reader still names it
        result = cli("compare", str(folder), "--out-dir", str(tmp_path / "boards"))
        assert_user_error(result, str(folder))
        assert any(word in result.stderr for word in ("damaged", "not valid JSON", "lacks the column")), result.stderr
    assert not (tmp_path / "boards").exists()


def test_a_folder_holding_only_rows_is_not_a_finished_run(cli, denoiser_checkpoint, tmp_path, phantom_args):
    fabricate_brain_run(tmp_path / "whole", "m", 1.0)
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / CASES).write_bytes((tmp_path / "whole" / CASES).read_bytes())
    assert_user_error(cli("compare", str(partial)), "holds no finished run", "run its command again")
    result = cli(
        *ddpm_run(denoiser_checkpoint),
        "--out",
        str(partial),
        "--latency-cases",
        "0",
        *phantom_args,
    )
    assert result.returncode == 0, result.stderr  # not refused as "already holds results"
    assert store.is_complete(partial)
    sweep = cli(
        "sweep",
        "--method",
        "ddpm",
        "--noise-levels",
        "30",
        "--checkpoint",
        str(denoiser_checkpoint),
        "--out",
        str(tmp_path / "grid"),
        "--set",
        "stride=10",
        *[w for w in phantom_args if w != "--set" and not w.startswith(("t0=", "stride="))],
    )
    assert sweep.returncode == 0, sweep.stderr


def test_a_full_disk_at_the_last_write_publishes_nothing_and_keeps_the_old_results(
    denoiser_checkpoint, tmp_path, monkeypatch
):
    out = tmp_path / "r"
    run(request(denoiser_checkpoint, out))
    before = digest(out)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)  # the rows, written once every case is scored
    with pytest.raises(AnobenchError, match="no space left"):
        run(request(denoiser_checkpoint, out, seed=1, overwrite=True))
    assert digest(out) == before  # the old set, whole, still published
    monkeypatch.undo()
    run(request(denoiser_checkpoint, out, seed=1, overwrite=True))  # the same command resumes the failed attempt
    assert json.loads((out / store.CONFIG).read_text())["seed"] == 1 and store.is_complete(out)
    assert json.loads((out / store.PROVENANCE).read_text())["timing"]["resumed_cases"] == 12
    run(request(denoiser_checkpoint, tmp_path / "clean", seed=1))
    same_results(tmp_path / "clean", out)


def test_overwrite_replaces_results_only_once_the_new_set_is_complete(denoiser_checkpoint, tmp_path, monkeypatch):
    from anobench.methods import ddpm

    out = tmp_path / "r"
    run(request(denoiser_checkpoint, out))
    before = digest(out)
    monkeypatch.setattr(ddpm.DDPM, "predict", lambda self, batch: (_ for _ in ()).throw(RuntimeError("CUDA oops")))
    with pytest.raises(AnobenchError, match=r"method 'ddpm' failed on case\(s\) .*: RuntimeError: CUDA oops"):
        run(request(denoiser_checkpoint, out, seed=3, overwrite=True))
    assert digest(out) == before and json.loads((out / store.CONFIG).read_text())["seed"] == 0
    with pytest.raises(AnobenchError, match="no checkpoint|does not exist"):
        run(request(tmp_path / "missing.pt", out, overwrite=True))
    assert digest(out) == before


def test_a_torn_or_damaged_journal_record_is_scored_again_from_there(denoiser_checkpoint, tmp_path, monkeypatch):
    from anobench.methods import ddpm

    original, calls = ddpm.DDPM.predict, {"n": 0}

    def interrupted(self, batch):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(ddpm.DDPM, "predict", interrupted)
    out = tmp_path / "r"
    with pytest.raises(KeyboardInterrupt, match="run the same command again"):
        run(request(denoiser_checkpoint, out))
    records = out / "journal" / "run" / "chunk-000000.batches.jsonl"
    lines = records.read_bytes().split(b"\n")
    assert len(lines) == 4  # three batches vouched for, then the newline after the last
    records.write_bytes(lines[0] + b"\n" + lines[1][:40])  # the second record torn, as by a kill mid-write
    monkeypatch.setattr(ddpm.DDPM, "predict", original)
    calls["scored"] = 0
    counting = lambda self, batch: calls.__setitem__("scored", calls["scored"] + 1) or original(self, batch)  # noqa: E731
    monkeypatch.setattr(ddpm.DDPM, "predict", counting)
    run(request(denoiser_checkpoint, out))
    assert calls["scored"] == 5  # the first batch kept; the torn one, the one after it and the three left scored
    assert json.loads((out / store.PROVENANCE).read_text())["timing"]["resumed_cases"] == 2
    monkeypatch.setattr(ddpm.DDPM, "predict", original)
    run(request(denoiser_checkpoint, tmp_path / "whole"))
    same_results(tmp_path / "whole", out)


def test_sigint_says_the_run_was_interrupted_and_how_to_resume(denoiser_checkpoint, tmp_path, phantom_words):
    out = tmp_path / "r"
    process = interrupted_after_a_batch(
        run_words(denoiser_checkpoint, phantom_words), out, signal.SIGINT, stderr=subprocess.PIPE
    )
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in stderr
    assert "interrupted" in stderr and "run the same command again to resume" in stderr
    assert not store.is_complete(out)


# ---- maps and cases that break the contract ---------------------------------------------------------


def patched_predict(monkeypatch, change):
    from anobench.methods import ddpm

    original = ddpm.DDPM.predict

    def predict(self, batch):
        prediction = original(self, batch)
        return change(prediction, batch)

    monkeypatch.setattr(ddpm.DDPM, "predict", predict)


def test_non_finite_maps_are_refused_naming_the_case_and_count(denoiser_checkpoint, tmp_path, monkeypatch):
    def poison(prediction, batch):
        prediction.maps[1, 0, :2, :3] = float("nan")  # the second case of each batch
        prediction.maps[1, 0, 5, 5] = float("inf")
        return prediction

    patched_predict(monkeypatch, poison)
    out = tmp_path / "r"
    with pytest.raises(AnobenchError) as refused:
        run(request(denoiser_checkpoint, out))
    from anobench.api import DatasetContext
    from anobench.registry import datasets

    second = datasets.get("brain-phantom").open(SMALL_PHANTOM, DatasetContext(64)).case_ids("test")[1]
    assert f"method 'ddpm' returned 7 non-finite map value(s) (NaN or ±inf) on 1 case(s), first {second!r} (7)" in str(
        refused.value
    )
    assert not store.is_complete(out)


@pytest.mark.parametrize(
    "change, accepted",
    [
        (lambda p, b: (setattr(p, "maps", p.maps.numpy()), p)[1], True),  # numpy maps: converted
        (lambda p, b: (setattr(p, "maps", p.maps.double()), p)[1], True),  # float64: converted
        (lambda p, b: (setattr(p, "maps", (p.maps * 100).long()), p)[1], False),  # integers: not maps
        (lambda p, b: (setattr(p, "maps", p.maps[:, 0]), p)[1], False),  # B×H×W: the wrong shape
        (lambda p, b: p.maps, False),  # a bare tensor, not a Prediction
    ],
)
def test_maps_of_another_type_are_converted_when_harmless_else_named(
    denoiser_checkpoint, tmp_path, monkeypatch, change, accepted
):
    patched_predict(monkeypatch, change)
    out = tmp_path / "r"
    if accepted:
        run(request(denoiser_checkpoint, out))
        monkeypatch.undo()
        run(request(denoiser_checkpoint, tmp_path / "plain"))
        same_results(tmp_path / "plain", out)
    else:
        with pytest.raises(AnobenchError, match="method 'ddpm'.*(expects|contract|not an anobench)"):
            run(request(denoiser_checkpoint, out))


def test_cases_outside_the_contract_are_converted_when_harmless_else_named(denoiser_checkpoint, tmp_path, monkeypatch):
    from dataclasses import replace

    from anobench.datasets.png_slices import PngSliceDataset

    original = PngSliceDataset.load_case
    monkeypatch.setattr(
        PngSliceDataset,
        "load_case",
        lambda self, split, case_id: replace(
            original(self, split, case_id), image=original(self, split, case_id).image.astype(float)
        ),
    )
    run(request(denoiser_checkpoint, tmp_path / "float64"))  # float64 images: converted
    monkeypatch.setattr(
        PngSliceDataset,
        "load_case",
        lambda self, split, case_id: replace(
            original(self, split, case_id), image=original(self, split, case_id).image * 255
        ),
    )
    with pytest.raises(AnobenchError, match=r"dataset 'brain-phantom', case .*: image values span .*expects \[0, 1\]"):
        run(request(denoiser_checkpoint, tmp_path / "scaled"))
    assert not (tmp_path / "scaled").exists()


# ---- plugins from outside: broken, doubled, raising ---------------------------------------------------

RAISING_METHOD = """
    from anobench.api import MethodPlugin, Prediction

    class Raising:
        def predict(self, batch):
            raise ValueError("index 7 is out of bounds")

        def settings(self):
            return {}

    plugin = MethodPlugin("raising", "raises inside predict", lambda options, context: Raising())
"""


def test_broken_and_doubled_plugins_spoil_only_themselves(cli, denoiser_checkpoint, tmp_path, phantom_words):
    entry_points = "[anobench.methods]\nbroken = no_such_module:plugin\nddpm = PKG:plugin\nraising = PKG:plugin\n"
    root = make_distribution(tmp_path / "site", "outside-plugins", entry_points, RAISING_METHOD)
    env = {"PYTHONPATH": str(root)}
    listing = cli("list", env=env)
    assert listing.returncode == 0, listing.stderr
    for fragment in ("broken", "ModuleNotFoundError", "refused", "registered twice", "thor", "raising"):
        assert fragment in listing.stdout, fragment
    assert_user_error(cli("run", "--method", "ddpm", "--dataset", "brain-phantom", env=env), "registered twice")
    assert_user_error(
        cli("run", "--method", "broken", "--dataset", "brain-phantom", env=env), "cannot be loaded", "no_such_module"
    )
    out = tmp_path / "r"
    raising = cli(
        "run", "--method", "raising", "--dataset", "brain-phantom", "--out", str(out), *phantom_words("--data"), env=env
    )
    assert_user_error(raising, "method 'raising' failed on case(s)", "ValueError: index 7 is out of bounds", "--debug")
    debug = cli(
        "--debug",
        "run",
        "--method",
        "raising",
        "--dataset",
        "brain-phantom",
        "--out",
        str(out),
        *phantom_words("--data"),
        env=env,
    )
    assert debug.returncode == 2 and "Traceback" in debug.stderr and "outside_plugins" in debug.stderr
    thor = cli(
        "run",
        "--method",
        "thor",
        "--dataset",
        "brain-phantom",
        "--checkpoint",
        str(denoiser_checkpoint),
        "--set",
        "stride=10",
        "--set",
        "t0=30",
        "--set",
        "harmonization=10",
        "--set",
        "perceptual=ssim",
        "--out",
        str(tmp_path / "thor"),
        "--latency-cases",
        "0",
        *phantom_words("--data"),
        env=env,
    )
    assert thor.returncode == 0, thor.stderr  # every other plugin keeps working
