"""Run a method over a dataset split and write a run folder (see `anobench.store.folder`).

job → collect → save: the split's case ids are listed through the dataset plugin, optionally sharded
(rank r of world size w takes cases r, r+w, …), loaded one batch at a time (so `--limit` and shards
decode only what they score), scored by the method plugin (`anobench.running.scoring`), and written
with one row per case plus the maps, a chunk at a time. A healthy split may be scored beside it
(`healthy_split`: a split of the data set, `NAME:SPLIT` of another, or `auto`, the one the data set
declares for calibration). Metrics are not computed here: leaderboards derive them from the folder.
Per-case seconds are the batch's time (CUDA events on a GPU, perf_counter on the CPU) divided by its
size; after the split, a few cases are timed again one at a time after a warm-up call
(`latency_cases`), so boards can show the latency at batch 1 beside the run's batch size.

The request is checked and the data listed before torch is imported (inside the functions that
score), so a mistaken command is answered within about a second.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from anobench import registry
from anobench.api import Case, DatasetContext, Method, MethodContext, manifest_hash
from anobench.diffusion.presets import get_preset
from anobench.errors import AnobenchError, RunInterrupted
from anobench.hashing import sha256_json
from anobench.progress import StageTimes, activity
from anobench.running.contract import checked_dataset, plugin_call
from anobench.running.journal import JOURNAL, BatchJournal, RunLock, remove_empty_journal
from anobench.running.request import (
    RunRequest,
    RunSummary,
    check_request,
    default_folder,
    healthy_source,
    healthy_splits,
)
from anobench.running.scoring import Scored, ScoringOptions, batch_one_seconds, score_cases
from anobench.running.sources import OpenSplit, SplitSource, absolute, parse_source
from anobench.store import folder as store
from anobench.store import shards
from anobench.store.atomic import flush_tree
from anobench.store.chunks import ARRAYS
from anobench.store.rows import BOXES, CASES, write_boxes, write_rows

if TYPE_CHECKING:
    import torch

SETUP = "setup (data, model)"


def run(request: RunRequest, console: Console | None = None) -> RunSummary:
    """Run `request` and write its folder; returns where, and how the time was spent (seconds per
    stage: setup, scoring, latency, healthy splits, writing)."""
    console = console or Console(stderr=True)
    times = StageTimes()
    with times.stage(SETUP):
        with activity(console, f"opening {request.dataset} and checking the request"):
            plan = _planned(request, console)
        method = plan.create_method()  # a bad checkpoint or setting is refused before the folder is touched
    folder = plan.folder
    with RunLock(folder, plan.name):  # one writer per folder (per shard); released by the OS if killed
        with times.stage(SETUP):
            store.prepare_folder(folder, request.overwrite, plan.finished)
            if not plan.sharded:  # the folder's one writer: what a killed run left unpublished goes
                store.remove_stale_staging(folder)
        try:
            return _execute(plan, method, console, times)
        except KeyboardInterrupt:
            raise RunInterrupted(
                f"the run into {folder} was interrupted; its finished batches are kept in {folder / JOURNAL}: run the "
                "same command again to resume it (results identical to an uninterrupted run)"
            ) from None


def _planned(request: RunRequest, console: Console) -> _Plan:
    """The request checked against its method, data set and folder, before anything is written."""
    check_request(request)
    request = replace(
        request,
        data_root=absolute(request.data_root) if request.data_root else None,
        data_roots={name: absolute(folder) for name, folder in request.data_roots.items()},
    )
    method_plugin = registry.methods.get(request.method)
    dataset_plugin = registry.datasets.get(request.dataset)
    folder = request.out or default_folder(request)
    preset = get_preset(request.preset)

    # the data is listed, and a first case read, before the run folder is touched: bad input leaves nothing behind
    with plugin_call(f"dataset {request.dataset!r} could not be opened", ("data set", request.dataset, "--data")):
        opened = dataset_plugin.open(request.dataset_options, DatasetContext(preset.image_size, request.data_root))
    dataset = checked_dataset(request.dataset, opened)
    scored = OpenSplit(
        SplitSource(request.dataset, request.split),
        dataset,
        request.dataset_options,
        request.data_root,
        preset.image_size,
    )
    if request.split not in dataset.splits:
        raise AnobenchError(
            f"unknown split {request.split!r} of {request.dataset}; available: {', '.join(dataset.splits)}"
        )
    ids = scored.case_ids()[: request.limit]
    extra = healthy_splits(request, scored, preset.image_size)
    healthy = {name: (split, split.case_ids()[: request.limit]) for name, split in extra.items()}
    if ids[request.rank :: request.world_size]:  # a layout or format error surfaces here, before anything is written
        scored.load(ids[request.rank])
    from anobench.devices import select_device  # imports torch: only once the request and data are checked

    device = select_device(request.device)
    plan = _Plan(request, folder, device, preset, method_plugin, scored, ids, healthy, console)
    store.refuse_finished(folder, request.overwrite, plan.finished)
    return plan


@dataclass(frozen=True)
class _Plan:
    """A checked request: where it writes, on what, with what."""

    request: RunRequest
    folder: Path
    device: torch.device
    preset: Any
    method_plugin: Any
    scored: OpenSplit
    ids: list[str]  # the split's case ids to score (all ranks)
    healthy: dict[str, tuple[OpenSplit, list[str]]]  # folder (healthy, healthy-test) → split and its case ids
    console: Console

    @property
    def sharded(self) -> bool:
        return self.request.world_size > 1

    @property
    def finished(self) -> Path:
        """What marks this run (or shard) as finished."""
        request = self.request
        if self.sharded:
            return shards.shard_marker(self.folder, request.rank, request.world_size)
        return self.folder / store.RESULT_SET

    @property
    def name(self) -> str:
        """Of its lock and journal: "run", or the shard's."""
        return f"rank{self.request.rank}-of-{self.request.world_size}" if self.sharded else "run"

    @cached_property
    def selected(self) -> list[tuple[int, str]]:
        """This rank's case ids with their position in the split: r, r + w, …"""
        request = self.request
        return [
            (index, case_id) for index, case_id in enumerate(self.ids) if index % request.world_size == request.rank
        ]

    @cached_property
    def validation_split(self) -> str | None:
        """The healthy validation split the data set declares, as NAME:SPLIT (None if it declares none)."""
        declared = self.scored.dataset.evaluation.validation_split
        return None if declared is None else str(parse_source(declared, default_dataset=self.request.dataset))

    def _calibration_cases(self, limit: int) -> list[Case]:
        if self.validation_split is None:
            return []
        source = healthy_source(self.request, self.scored, self.preset.image_size, self.validation_split)
        return [source.load(case_id) for case_id in source.case_ids()[:limit]]

    def create_method(self) -> Method:
        request = self.request
        training_split = self.scored.dataset.evaluation.training_split
        source = None
        if training_split is not None:  # SPLIT of this data set (`train`: the data set's name alone), or NAME:SPLIT
            named = parse_source(training_split, default_dataset=request.dataset)
            source = named.dataset if training_split == "train" else str(named)
        with (
            activity(self.console, f"preparing {request.method} (checkpoint, settings, calibration)"),
            plugin_call(f"method {request.method!r} could not be created", ("method", request.method, "--set")),
        ):
            return self._create(source)

    def _create(self, source: str | None) -> Method:
        request = self.request
        return self.method_plugin.create(
            request.method_options,
            MethodContext(
                request.dataset,
                self.preset.name,
                self.preset.image_size,
                self.device,
                request.checkpoint,
                healthy_validation=self._calibration_cases,
                validation_split=self.validation_split,
                seed=request.seed,
                precision=request.precision,
                compile=request.compile,
                training_source=source,
                data_root=self._training_root(source),
                lesion_contrast=self.scored.dataset.evaluation.lesion_contrast,
                modality=self.scored.dataset.evaluation.modality,
                training_options=self._training_options(source),
            ),
        )

    def _training_root(self, source: str | None) -> Path | None:
        """The data folder of a denoiser's training source: this run's, or the one given for the data set it names."""
        trained_on = None if source is None else source.partition(":")[0]
        if trained_on in (None, self.request.dataset):
            return self.request.data_root
        return self.request.data_roots.get(trained_on)

    def _training_options(self, source: str | None) -> tuple[tuple[str, str], ...]:
        """The data options a denoiser's training source takes: this data set's own when it trains on
        itself, else those it gives the source it names (`modality=t2`)."""
        if source == self.request.dataset:
            return tuple(sorted(self.request.dataset_options.items()))
        return self.scored.dataset.evaluation.healthy_options

    def config(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The resolved configuration the folder records."""
        request = self.request
        calibration = self.healthy[store.HEALTHY][0] if store.HEALTHY in self.healthy else None
        held_out = store.HEALTHY_TEST
        evaluation = self.scored.dataset.evaluation
        return {
            **{
                key: value
                for key, value in asdict(request).items()
                if key not in ("out", "overwrite", "rank", "data_roots")
            },
            "checkpoint": str(request.checkpoint) if request.checkpoint else None,
            "data_root": str(request.data_root) if request.data_root else None,
            "data_roots": {name: str(folder) for name, folder in request.data_roots.items()},
            "image_size": self.preset.image_size,
            "method_settings": settings,
            "dataset_settings": self.scored.dataset.settings(),
            "evaluation": {**asdict(evaluation), "classes": list(evaluation.classes)},
            "healthy_split": str(calibration.name) if calibration else None,
            "healthy": calibration.describe() if calibration else None,
            **({"healthy_test_split": str(self.healthy[held_out][0].name)} if held_out in self.healthy else {}),
        }

    def scored_for(self, settings: dict[str, Any], manifest: str) -> dict[str, Any]:
        """What a journal must have been written for to be resumed by this run."""
        ignored = ("out", "overwrite", "latency_cases")
        return {
            **{k: v for k, v in asdict(self.request).items() if k not in ignored},
            "method_settings": settings,
            "data_manifest": manifest,
        }


def _execute(plan: _Plan, method: Method, console: Console, times: StageTimes) -> RunSummary:
    from anobench.devices import reset_peak_memory

    request, folder, device, image_size = plan.request, plan.folder, plan.device, plan.preset.image_size
    with times.stage(SETUP):
        with plugin_call(f"method {request.method!r} failed to report its settings"):
            settings = dict(method.settings())
        manifest = plan.scored.dataset.manifest()
        digest = sha256_json(manifest)
        recorded = {"sha256": digest, **manifest}
        for name, (split, _) in plan.healthy.items():  # a healthy split of another data set: its manifest too
            if split.dataset is not plan.scored.dataset:
                other = split.dataset.manifest()
                recorded[name] = {"sha256": sha256_json(other), **other}
        scored_for = plan.scored_for(settings, digest)
        journals = [BatchJournal(folder, plan.name, scored_for, replace_other=request.overwrite)]
        reset_peak_memory(device)
    options = ScoringOptions(request.method, request.batch_size, request.seed)
    with times.stage(f"scoring {plan.scored}"):
        scored = score_cases(method, plan.scored, plan.selected, options, image_size, device, console, journals[0])
    with times.stage("latency at batch size 1"):
        first_cases = [plan.scored.load(case_id) for _, case_id in plan.selected[: request.latency_cases + 1]]
        count = request.latency_cases
        batch_one = batch_one_seconds(method, request.method, first_cases, request.seed, device, count, console)
    healthy_scored: dict[str, tuple[Scored, BatchJournal]] = {}
    manifests = {name: manifest_hash(split.dataset) for name, (split, _) in plan.healthy.items()}
    for name, (split, ids) in plan.healthy.items():  # never with shards (refused): one journal per folder
        scored_as = {**scored_for, "split": str(split.name), "healthy_manifest": manifests[name]}
        journal = BatchJournal(folder, name, scored_as, request.overwrite)
        journals.append(journal)
        with times.stage(f"healthy {split}"):
            cases = list(enumerate(ids))
            healthy_scored[name] = (
                score_cases(method, split, cases, options, image_size, device, console, journal),
                journal,
            )
    with times.stage("writing"):
        merged = _write(plan, settings, recorded, scored, batch_one, healthy_scored, journals, manifests)
    return RunSummary(
        plan.folder,
        len(plan.selected),
        scored.wall_seconds,
        scored.predict_seconds,
        scored.network_seconds,
        merged,
        dict(times.seconds),
    )


def _write(
    plan: _Plan,
    settings: dict[str, Any],
    recorded: dict[str, Any],
    scored: Scored,
    batch_one: list[float],
    healthy_scored: dict[str, tuple[Scored, BatchJournal]],
    journals: list[BatchJournal],
    manifests: dict[str, str],
) -> bool:
    """The run's result set written and published (or the shard's, merged when it is the last);
    True when the run is complete."""
    from anobench import distributed

    request, folder, digest = plan.request, plan.folder, recorded["sha256"]
    healthy_manifest = manifests.get(store.HEALTHY)
    provenance = _provenance(plan, settings, digest, scored, batch_one, healthy_manifest)
    if plan.sharded:  # the shard's result set, its provenance last; merge_shards publishes the joined set
        store.write_json(folder / store.SHARDS / store.CONFIG, plan.config(settings))
        store.write_json(folder / store.SHARDS / store.DATA_MANIFEST, recorded)
        shard = shards.shard_folder(folder, request.rank, request.world_size)
        _place(shard, scored, journals[0])
        flush_tree(shard)
        store.write_json(shards.shard_marker(folder, request.rank, request.world_size), provenance)
    else:  # written aside, then published as one unit
        staged = store.staging(folder)
        store.write_json(staged / store.CONFIG, plan.config(settings), durable=False)
        store.write_json(staged / store.DATA_MANIFEST, recorded, durable=False)
        store.write_json(staged / store.PROVENANCE, provenance, durable=False)
        for name, (healthy, journal) in healthy_scored.items():
            _place(staged / name, healthy, journal)
        _place(staged, scored, journals[0])
        store.publish(folder, staged)
    for journal in journals:  # only once the results they hold are written
        journal.discard()
    if distributed.active():  # torchrun: every rank has written its shard before rank 0 merges them
        distributed.barrier()
        merged = request.rank == 0 and shards.merge_shards(folder, request.world_size)
    else:
        merged = shards.merge_shards(folder, request.world_size) if plan.sharded else True
    if merged:
        remove_empty_journal(folder)
    return merged


def _place(target: Path, scored: Scored, journal: BatchJournal) -> None:
    """A split's result set into `target`: its rows and boxes, then the journal's chunks, moved (a
    rename: nothing is written twice), so that a failure before the move leaves them journalled."""
    write_rows(target / CASES, scored.rows)
    if len(scored.boxes):
        write_boxes(target / BOXES, scored.boxes)
    shutil.rmtree(target / ARRAYS, ignore_errors=True)  # a stale set of an earlier attempt at this shard
    os.replace(journal.arrays_folder, target / ARRAYS)


def _provenance(
    plan: _Plan,
    settings: dict[str, Any],
    manifest: str,
    scored: Scored,
    batch_one: list[float],
    healthy_manifest: str | None,
) -> dict[str, Any]:
    from anobench.devices import peak_memory
    from anobench.provenance import environment

    request = plan.request
    return {
        **environment(plan.device),
        "seed": request.seed,
        "data_manifest": manifest,
        "healthy_data_manifest": healthy_manifest,
        "checkpoint_sha256": (settings.get("checkpoint") or {}).get("sha256"),
        "perceptual_backend": settings.get("perceptual"),
        "timing": {
            "wall_seconds": scored.wall_seconds,
            "predict_seconds": scored.predict_seconds,
            "network_seconds": scored.network_seconds,
            "cases": len(plan.selected),
            "resumed_cases": scored.resumed_cases,
            "batch_one_seconds": batch_one,
            "peak_memory": peak_memory(plan.device),
            "dtype": {"fp32": "float32", "bf16": "bfloat16 autocast", "fp16": "float16 autocast"}[request.precision],
            "compiled": request.compile,
        },
    }
