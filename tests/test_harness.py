import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import assert_finds_the_lesions, small_phantom_cases, stacked_images
from conftest import ddpm_request as request

from anobench import registry
from anobench.api import Batch, MethodContext
from anobench.errors import AnobenchError
from anobench.running.harness import run
from anobench.running.reuse import outdated_by
from anobench.store import folder as store
from anobench.store.results import read_results
from anobench.store.rows import CASES


@pytest.fixture(scope="module")
def reference_run(denoiser_checkpoint, tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "reference"
    run(request(denoiser_checkpoint, folder))
    return folder


def test_run_folder_holds_config_provenance_rows_and_maps(reference_run, denoiser_checkpoint):
    config = json.loads((reference_run / "config.json").read_text())
    assert config["method"] == "ddpm" and config["method_settings"]["t0"] == 30
    provenance = json.loads((reference_run / "provenance.json").read_text())
    for key in ("anobench", "git", "torch", "device", "threads", "seed", "data_manifest", "checkpoint_sha256"):
        assert key in provenance
    assert provenance["checkpoint_sha256"] == config["method_settings"]["checkpoint"]["sha256"]
    results = read_results(reference_run)
    rows = results.rows
    assert list(rows.columns) == [
        "index",
        "case_id",
        "subject_id",
        "lesion_pixels",
        "size_bin",
        "score",
        "nfe",
        "seconds",
        "batch_size",
        "batch",
        "slice_index",
    ]
    assert rows["slice_index"].isna().all()  # the phantom's slices are not of volumes
    assert len(rows) == 12 and rows["nfe"].eq(4).all()
    assert results.maps.shape == (12, 64, 64) and results.masks.shape == (12, 64, 64)
    np.testing.assert_allclose(rows["score"], results.maps.mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_array_equal(rows["lesion_pixels"], results.masks.sum(axis=(1, 2)))
    assert set(rows["size_bin"].dropna()) <= {"small", "medium", "large"}
    assert rows["subject_id"].str.startswith("sub-").all()
    timing = provenance["timing"]
    assert len(timing["batch_one_seconds"]) == 4 and min(timing["batch_one_seconds"]) > 0  # after a warm-up call
    assert timing["peak_memory"]["bytes"] > 0 and timing["peak_memory"]["kind"] == "process peak RSS"


@pytest.mark.acting_network
def test_batch_size_does_not_change_results(reference_run, denoiser_checkpoint, tmp_path):
    run(request(denoiser_checkpoint, tmp_path / "b1", batch_size=1))
    reference = read_results(reference_run)
    single = read_results(tmp_path / "b1")
    lesioned = reference.masks.any(axis=(1, 2))
    assert_finds_the_lesions(reference.maps[lesioned], reference.masks[lesioned])
    np.testing.assert_allclose(single.maps, reference.maps, rtol=0, atol=1e-5)


def test_shards_merge_into_the_single_process_result(reference_run, denoiser_checkpoint, tmp_path):
    folder = tmp_path / "sharded"
    first = run(request(denoiser_checkpoint, folder, rank=1, world_size=2))
    assert not first.merged and not (folder / CASES).exists()
    second = run(request(denoiser_checkpoint, folder, rank=0, world_size=2))
    assert second.merged
    merged = read_results(folder)
    reference = read_results(reference_run)
    pd.testing.assert_frame_equal(
        merged.rows.drop(columns=["seconds", "batch_size", "batch"]),
        reference.rows.drop(columns=["seconds", "batch_size", "batch"]),
    )
    np.testing.assert_allclose(merged.maps, reference.maps, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(merged.masks, reference.masks)
    assert len(json.loads((folder / "provenance.json").read_text())["shards"]) == 2


def test_a_shard_leaves_the_journals_of_shards_still_running_alone(denoiser_checkpoint, tmp_path):
    """torchrun ranks share the folder: one must neither read nor remove what another is journalling
    (every rank once opened a shared healthy-split journal, and a rank that read its sibling's refused)."""
    folder = tmp_path / "sharded"
    for name in ("rank1-of-2", "healthy"):
        (folder / "journal" / name).mkdir(parents=True)
        (folder / "journal" / name / "request.json").write_text('{"rank": 1}')
    assert not run(request(denoiser_checkpoint, folder, rank=0, world_size=2)).merged
    assert sorted(p.name for p in (folder / "journal").iterdir()) == ["healthy", "rank1-of-2"]
    assert (folder / "journal" / "rank1-of-2" / "request.json").read_text() == '{"rank": 1}'


def test_existing_results_are_kept_unless_overwrite(reference_run, denoiser_checkpoint):
    with pytest.raises(AnobenchError, match="already holds results.*--overwrite"):
        run(request(denoiser_checkpoint, reference_run))


def test_a_finished_run_stands_for_its_request_until_the_request_or_checkpoint_changes(
    reference_run, denoiser_checkpoint, tmp_path
):
    assert outdated_by(request(denoiser_checkpoint, reference_run), reference_run) is None
    other = request(denoiser_checkpoint, reference_run, method_options={"t0": "20", "stride": "10"})
    assert "method_options" in outdated_by(other, reference_run)
    checkpoint = tmp_path / "model.pt"  # the run as if it had read a copy, which is then retrained in place
    checkpoint.write_bytes(denoiser_checkpoint.read_bytes())
    config = json.loads((reference_run / "config.json").read_text())
    config["checkpoint"] = config["method_settings"]["checkpoint"]["path"] = str(checkpoint)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    assert outdated_by(request(checkpoint, tmp_path / "run"), tmp_path / "run") is None
    checkpoint.write_bytes(denoiser_checkpoint.read_bytes() + b"retrained")
    assert "has been replaced or removed since" in outdated_by(request(checkpoint, tmp_path / "run"), tmp_path / "run")


def test_rank_outside_world_is_refused(denoiser_checkpoint, tmp_path):
    with pytest.raises(AnobenchError, match="rank 2 is not within a world size of 2"):
        run(request(denoiser_checkpoint, tmp_path / "bad", rank=2, world_size=2))


@pytest.mark.acting_network
def test_autoddpm_calibrates_on_the_datasets_healthy_validation_split(denoiser_checkpoint, tmp_path):
    options = {"t0": "20", "stride": "10", "resample_from": "10", "resample_repeats": "1", "perceptual": "ssim"}
    run(request(denoiser_checkpoint, tmp_path / "auto", method="autoddpm", method_options=options))
    settings = json.loads((tmp_path / "auto" / "config.json").read_text())["method_settings"]
    calibration = settings["calibration"]
    assert calibration["source"] == "healthy validation (brain-phantom:val)" and calibration["cases"] == 4
    # τ again, from outside the harness: the stage-1 maps of the phantom's 4 validation slices (seed 0, as
    # the run), and the 95th percentile by numpy's inverted CDF (the smallest value with ≥ 95 % at or below)
    cases = small_phantom_cases("val")
    context = MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), denoiser_checkpoint)
    method = registry.methods.get("autoddpm").create({**options, "threshold": "0.5"}, context)
    with torch.inference_mode():
        stage_maps = method.stage_one(Batch(stacked_images(cases), [case.case_id for case in cases], 0))[2].numpy()
    expected = np.quantile(stage_maps.astype(np.float64), 0.95, method="inverted_cdf")
    assert settings["threshold"] == pytest.approx(expected, rel=1e-6)
    assert calibration["achieved_fpr"] == pytest.approx((stage_maps > expected).mean())
    # the acting network restores healthy slices: τ measured 0.012 (a zeroed network's maps put it at 0.64)
    assert settings["threshold"] < 0.05


def test_limit_and_shards_decode_only_the_cases_they_score(denoiser_checkpoint, tmp_path, monkeypatch):
    from anobench.datasets import png_slices

    decoded = []
    original = png_slices.PngSliceDataset.load_case
    monkeypatch.setattr(
        png_slices.PngSliceDataset,
        "load_case",
        lambda self, split, case_id: decoded.append((split, case_id)) or original(self, split, case_id),
    )
    run(request(denoiser_checkpoint, tmp_path / "limited", limit=3, latency_cases=0))
    assert {split for split, _ in decoded} == {"test"} and len({case for _, case in decoded}) == 3
    decoded.clear()
    run(request(denoiser_checkpoint, tmp_path / "shard", rank=1, world_size=3, latency_cases=0))
    assert len({case for _, case in decoded}) == 4  # cases 1, 4, 7, 10 of 12


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"limit": 0}, "--limit must be at least 1, got 0"),
        ({"limit": -1}, "--limit must be at least 1"),
        ({"healthy_split": "nope"}, "has no split 'nope'"),
        ({"precision": "fp8"}, "precision must be one of"),
        ({"healthy_split": "ixi:val", "data_roots": {}}, "ixi: no data folder given"),
    ],
)
def test_bad_requests_are_one_clear_error_before_anything_is_written(
    denoiser_checkpoint, tmp_path, monkeypatch, changes, message
):
    monkeypatch.delenv("ANOBENCH_DATA", raising=False)
    with pytest.raises(AnobenchError, match=message):
        run(request(denoiser_checkpoint, tmp_path / "bad", **changes))
    assert not (tmp_path / "bad").exists()


def test_healthy_split_auto_is_the_datasets_declared_one_and_recorded(denoiser_checkpoint, tmp_path):
    run(request(denoiser_checkpoint, tmp_path / "calibrated", healthy_split="auto", latency_cases=0))
    config = json.loads((tmp_path / "calibrated" / "config.json").read_text())
    assert config["healthy_split"] == "brain-phantom:val"
    assert config["evaluation"] == {
        "protocol": "pixel",
        "classes": [],
        "healthy_split": "val",
        "validation_split": "val",
        "training_split": "train",
        "healthy_test_split": None,
        "volumes": False,
        "passes_on": [],
        "lesion_contrast": "dark",
        "modality": "t1",
        "healthy_options": [],
    }
    assert len(read_results(tmp_path / "calibrated" / store.HEALTHY).rows) == 4
    assert not (tmp_path / "calibrated" / store.HEALTHY_TEST).exists()  # slices, not volumes: no held-out split
    manifest = json.loads((tmp_path / "calibrated" / store.DATA_MANIFEST).read_text())
    assert manifest["sha256"] == json.loads((tmp_path / "calibrated" / "provenance.json").read_text())["data_manifest"]
    assert any(name.endswith(".png") for name in manifest["files"]) and "healthy" not in manifest  # same data set


@pytest.mark.parametrize("missing", ["evaluation", "manifest", "settings"])
def test_a_data_set_that_breaks_the_contract_is_refused_in_one_line_before_a_folder(
    denoiser_checkpoint, tmp_path, monkeypatch, missing
):
    from anobench import registry
    from anobench.api import DatasetPlugin

    real = registry.datasets.get("brain-phantom")

    class Partial:  # the real data set, less one member
        def __init__(self, dataset):
            self.dataset = dataset

        def __getattr__(self, name):
            if name == missing:
                raise AttributeError(name)
            return getattr(self.dataset, name)

    partial = DatasetPlugin("brain-phantom", "partial", lambda options, context: Partial(real.open(options, context)))
    monkeypatch.setattr(registry.datasets, "get", lambda name: partial if name == "brain-phantom" else real)
    with pytest.raises(AnobenchError, match=f"dataset 'brain-phantom': its object lacks {missing} of the data set"):
        run(request(denoiser_checkpoint, tmp_path / "run", latency_cases=0))
    assert not (tmp_path / "run").exists()


def test_a_recorded_config_repeats_auto_where_the_run_also_scored_held_out_healthy_subjects(tmp_path):
    from anobench.running.request import REPEATED_FIELDS, recorded_request

    asked = {name: None for name in REPEATED_FIELDS} | {"method_options": {}, "dataset_options": {}}
    base = {**asked, "checkpoint": "/models/brain.pt", "data_roots": {"ixi": "/data/ixi"}}
    volumes = {**base, "healthy_split": "brain-phantom-volumes:val", "healthy_test_split": "x:test-healthy"}
    slices = {**base, "healthy_split": "ixi:val"}
    for name, config in (("volumes", volumes), ("slices", slices)):
        store.write_json(tmp_path / name / store.CONFIG, config)
    assert recorded_request(tmp_path / "volumes")["healthy_split"] == "auto"  # only auto scores healthy-test
    recorded = recorded_request(tmp_path / "slices" / store.CONFIG)
    assert recorded["healthy_split"] == "ixi:val" and str(recorded["checkpoint"]) == "/models/brain.pt"
    assert {name: str(folder) for name, folder in recorded["data_roots"].items()} == {"ixi": "/data/ixi"}
    store.write_json(tmp_path / "other.json", {"method": "thor"})
    with pytest.raises(
        AnobenchError, match=r"other\.json is not the config\.json of an anobench run \(it lacks dataset"
    ):
        recorded_request(tmp_path / "other.json")


def test_compile_runs_the_compiled_network_to_the_same_maps(reference_run, denoiser_checkpoint, tmp_path, monkeypatch):
    """`--compile`: the denoiser goes through torch.compile, the run says so, and its maps are the
    uncompiled run's. The graph is captured by TorchDynamo and AOTAutograd as in a real compile, but
    run by the `aot_eager` backend: TorchInductor's C++ code generation took 4 minutes of a 2-core
    machine for this network and is torch's own, tested by torch."""
    compiled_modules = []
    original = torch.compile

    def recorded_compile(module, *args, **kwargs):
        compiled_modules.append(type(module).__name__)
        return original(module, *args, **{**kwargs, "backend": "aot_eager"})

    monkeypatch.setattr(torch, "compile", recorded_compile)
    run(request(denoiser_checkpoint, tmp_path / "compiled", compile=True, limit=4))
    assert compiled_modules == ["DiffusionModelUNet"]
    provenance = json.loads((tmp_path / "compiled" / "provenance.json").read_text())
    assert provenance["timing"]["compiled"] is True
    compiled, reference = read_results(tmp_path / "compiled"), read_results(reference_run)
    np.testing.assert_allclose(compiled.maps, reference.maps[:4], rtol=0, atol=1e-5)
