"""Run a method over a dataset split and write a run folder (see `anobench.runs`).

job → collect → save: cases are read through the dataset plugin, optionally sharded (rank r of
world size w takes cases r, r+w, …), scored in batches by the method plugin, and written with one
row per case plus the maps. Metrics are not computed here: leaderboards derive them from the
folder. Per-case seconds are the batch's time (CUDA events on a GPU, perf_counter on the CPU)
divided by its size; after the split, a few cases are timed again one at a time after a warm-up call
(`latency_cases`), so boards can show the latency at batch 1 beside the run's batch size.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from anobench import distributed, registry, runs
from anobench.api import Batch, Case, DatasetContext, Method, MethodContext
from anobench.diffusion.presets import get_preset
from anobench.errors import AnobenchError
from anobench.journal import BatchJournal, RunLock, remove_empty_journal
from anobench.metrics import size_bin
from anobench.provenance import environment
from anobench.devices import Stopwatch, peak_memory, reset_peak_memory, select_device


@dataclass(frozen=True)
class RunRequest:
    method: str
    dataset: str
    split: str = "test"
    preset: str = "cpu-small"
    checkpoint: Path | None = None
    method_options: dict[str, str] = field(default_factory=dict)
    dataset_options: dict[str, str] = field(default_factory=dict)
    data_root: Path | None = None
    batch_size: int = 8
    seed: int = 0
    device: str | None = None
    out: Path | None = None
    overwrite: bool = False
    rank: int = 0
    world_size: int = 1
    limit: int | None = None
    healthy_split: str | None = None  # also scored, into healthy/: box protocols take τ from it
    latency_cases: int = 4  # cases timed again at batch size 1 after a warm-up call (0: none)
    precision: str = "fp32"  # autocast of the network: fp32, bf16, fp16
    compile: bool = False  # torch.compile the network


@dataclass
class RunSummary:
    folder: Path
    cases: int
    wall_seconds: float
    predict_seconds: float
    network_seconds: float
    merged: bool


def default_folder(request: RunRequest) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / request.dataset / f"{request.method}-{stamp}"


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.2f} img/s"),
        TimeRemainingColumn(),
        console=console,
    )


@dataclass
class _Scored:
    results: runs.CaseResults
    wall_seconds: float
    predict_seconds: float
    network_seconds: float
    resumed_cases: int  # taken from the journal of an interrupted attempt


def _score(
    method: Method,
    selected: list[tuple[int, Case]],
    request: RunRequest,
    image_size: int,
    device: torch.device,
    console: Console,
    journal: BatchJournal,
) -> _Scored:
    """Score the cases in batches; per-case rows carry the batch's time divided by its size.

    Batches already in the journal (an interrupted earlier attempt) are taken from it; every batch
    scored here is journalled as soon as it is done.
    """
    rows: list[dict[str, Any]] = []
    maps, reconstructions = [], []
    predict_seconds = network_seconds = 0.0
    stopwatch = Stopwatch(device)
    finished = journal.finished()
    start, scored_here = time.perf_counter(), 0
    with _progress(console) as progress, torch.inference_mode():
        task = progress.add_task(f"{request.method} on {request.dataset}", total=len(selected), rate=0.0)
        for first in range(0, len(selected), request.batch_size):
            chunk = selected[first : first + request.batch_size]
            if first in finished:
                batch_rows, arrays = finished[first]
            else:
                batch_rows, arrays = _score_batch(method, chunk, request, stopwatch, first // request.batch_size)
                journal.record(first, batch_rows, arrays)
                scored_here += len(chunk)
            rows += batch_rows
            maps.append(arrays["maps"])
            if "reconstructions" in arrays:
                reconstructions.append(arrays["reconstructions"])
            predict_seconds += float(arrays["predict_seconds"])
            network_seconds += float(arrays["network_seconds"])
            progress.update(task, completed=first + len(chunk), rate=scored_here / (time.perf_counter() - start))
    wall_seconds = time.perf_counter() - start
    results = runs.CaseResults(
        rows=pd.DataFrame(rows, columns=ROW_COLUMNS),
        maps=np.concatenate(maps) if maps else np.zeros((0, image_size, image_size), np.float32),
        masks=_stack([case.mask for _, case in selected]),
        reconstructions=np.concatenate(reconstructions) if maps and len(reconstructions) == len(maps) else None,
        negative_regions=_stack([case.negative_region for _, case in selected]),
        images=_stack([case.image for _, case in selected]),
    )
    return _Scored(results, wall_seconds, predict_seconds, network_seconds, len(selected) - scored_here)


def _score_batch(
    method: Method, chunk: list[tuple[int, Case]], request: RunRequest, stopwatch: Stopwatch, number: int
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """One batch through the method: its rows and arrays (maps, reconstructions, seconds)."""
    batch = Batch(
        images=torch.stack([torch.from_numpy(case.image) for _, case in chunk])[:, None],
        case_ids=[case.case_id for _, case in chunk],
        seed=request.seed,
    )
    stopwatch.start()
    prediction = method.predict(batch)
    batch_maps = prediction.maps.float().cpu().numpy()[:, 0]
    batch_seconds = stopwatch.stop()
    if prediction.maps.shape != batch.images.shape:
        raise AnobenchError(
            f"method {request.method!r} returned maps of shape {tuple(prediction.maps.shape)} "
            f"for images of shape {tuple(batch.images.shape)}"
        )
    arrays = {
        "maps": batch_maps,
        "predict_seconds": np.array(batch_seconds),
        "network_seconds": np.array(prediction.network_seconds),
    }
    if prediction.reconstructions is not None:
        arrays["reconstructions"] = prediction.reconstructions.float().cpu().numpy()[:, 0]
    rows = [
        _row(index, case, case_map, prediction.nfe, batch_seconds / len(chunk), len(chunk), number)
        for (index, case), case_map in zip(chunk, batch_maps)
    ]
    return rows, arrays


def _box_rows(selected: list[tuple[int, Case]]) -> pd.DataFrame:
    rows = [
        {"index": index, "case_id": case.case_id, "label": box.label,
         "top": box.top, "left": box.left, "bottom": box.bottom, "right": box.right}
        for index, case in selected
        for box in case.boxes
    ]
    return pd.DataFrame(rows, columns=runs.BOX_COLUMNS)


def _batch_one_seconds(method: Method, cases: list[Case], seed: int, device: torch.device, count: int) -> list[float]:
    """Seconds per image at batch size 1 for up to `count` cases, after one warm-up call, through the
    same `predict` that made the results (the maps are discarded)."""
    stopwatch = Stopwatch(device)
    samples = []
    with torch.inference_mode():
        for position, case in enumerate(cases[: count + 1] if count > 0 else []):
            batch = Batch(torch.from_numpy(case.image)[None, None], [case.case_id], seed)
            stopwatch.start()
            method.predict(batch).maps.cpu()
            seconds = stopwatch.stop()
            if position > 0:
                samples.append(seconds)
    return samples


def _row(
    index: int, case: Case, case_map: np.ndarray, nfe: int, seconds: float, batch_size: int, batch: int
) -> dict[str, Any]:
    lesion = int(case.mask.sum()) if case.mask is not None else 0
    return {
        "index": index,
        "case_id": case.case_id,
        "subject_id": case.subject_id,
        "lesion_pixels": lesion,
        "size_bin": size_bin(lesion, *case.image.shape) if case.mask is not None else None,
        "score": float(case_map.mean()),
        "nfe": nfe,
        "seconds": seconds,
        "batch_size": batch_size,
        "batch": batch,
    }


ROW_COLUMNS = [
    "index", "case_id", "subject_id", "lesion_pixels", "size_bin", "score", "nfe", "seconds", "batch_size", "batch",
]


def _stack(arrays: list[np.ndarray | None]) -> np.ndarray | None:
    """The per-case arrays stacked, or None unless every case has one."""
    if not arrays or any(array is None for array in arrays):
        return None
    return np.stack(arrays)  # type: ignore[arg-type]


def run(request: RunRequest, console: Console | None = None) -> RunSummary:
    """Run `request` and write its folder; returns where, and how the time was spent."""
    console = console or Console(stderr=True)
    method_plugin = registry.methods.get(request.method)
    dataset_plugin = registry.datasets.get(request.dataset)
    if request.batch_size < 1:
        raise AnobenchError(f"batch size must be at least 1, got {request.batch_size}")
    if request.world_size < 1 or not 0 <= request.rank < request.world_size:
        raise AnobenchError(f"rank {request.rank} is not within a world size of {request.world_size}")
    folder = request.out or default_folder(request)
    sharded = request.world_size > 1
    outputs = runs.shard_files(folder, request.rank, request.world_size) if sharded else runs.run_files(folder)
    device = select_device(request.device)
    preset = get_preset(request.preset)

    # the data is read and checked before the run folder is touched: bad input leaves nothing behind
    dataset = dataset_plugin.open(request.dataset_options, DatasetContext(preset.image_size, request.data_root))
    cases = list(dataset.cases(request.split))[: request.limit]
    if request.healthy_split is not None and sharded:
        raise AnobenchError("--healthy-split cannot be combined with --world-size > 1")
    healthy = list(dataset.cases(request.healthy_split))[: request.limit] if request.healthy_split else []
    plan = _Plan(request, folder, outputs, device, preset, method_plugin, dataset, cases, healthy)
    with RunLock(folder, plan.name):  # one writer per folder (per shard); released by the OS if killed
        runs.prepare_folder(folder, request.overwrite, outputs)
        return _execute(plan, console)


@dataclass(frozen=True)
class _Plan:
    """A checked request: where it writes, on what, with what."""

    request: RunRequest
    folder: Path
    outputs: tuple[Path, ...]
    device: torch.device
    preset: Any
    method_plugin: Any
    dataset: Any
    cases: list[Case]
    healthy: list[Case]

    @property
    def sharded(self) -> bool:
        return self.request.world_size > 1

    @property
    def name(self) -> str:
        """Of its lock and journal: "run", or the shard's."""
        return f"rank{self.request.rank}-of-{self.request.world_size}" if self.sharded else "run"

    @cached_property
    def selected(self) -> list[tuple[int, Case]]:
        """This rank's cases with their index in the split: r, r + w, …"""
        request = self.request
        return [(index, case) for index, case in enumerate(self.cases) if index % request.world_size == request.rank]

    def create_method(self) -> Method:
        request, dataset = self.request, self.dataset
        return self.method_plugin.create(
            request.method_options,
            MethodContext(
                request.dataset, self.preset.name, self.preset.image_size, self.device, request.checkpoint,
                healthy_validation=lambda: dataset.cases("val") if "val" in dataset.splits else [],
                seed=request.seed, precision=request.precision, compile=request.compile,
            ),
        )

    def config(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The resolved configuration the folder records."""
        request = self.request
        return {
            **{key: value for key, value in asdict(request).items() if key not in ("out", "overwrite", "rank")},
            "checkpoint": str(request.checkpoint) if request.checkpoint else None,
            "data_root": str(request.data_root) if request.data_root else None,
            "image_size": self.preset.image_size,
            "method_settings": settings,
            "dataset_settings": self.dataset.settings(),
        }

    def scored_for(self, settings: dict[str, Any], manifest: str) -> dict[str, Any]:
        """What a journal must have been written for to be resumed by this run."""
        ignored = ("out", "overwrite", "latency_cases")
        return {**{k: v for k, v in asdict(self.request).items() if k not in ignored},
                "method_settings": settings, "data_manifest": manifest}


def _execute(plan: _Plan, console: Console) -> RunSummary:
    request, folder, device, image_size = plan.request, plan.folder, plan.device, plan.preset.image_size
    selected = plan.selected
    method = plan.create_method()
    settings = method.settings()
    runs.write_json(folder / runs.CONFIG, plan.config(settings))
    manifest = plan.dataset.manifest_hash()
    scored_for = plan.scored_for(settings, manifest)
    journal = BatchJournal(folder, plan.name, scored_for, discard=request.overwrite)
    reset_peak_memory(device)
    scored = _score(method, selected, request, image_size, device, console, journal)
    batch_one = _batch_one_seconds(method, [case for _, case in selected], request.seed, device, request.latency_cases)
    provenance = _provenance(plan, settings, manifest, scored, batch_one)
    if plan.healthy:  # never with shards (refused): one healthy journal per folder
        healthy_journal = BatchJournal(folder, "healthy", {**scored_for, "split": request.healthy_split},
                                       request.overwrite)
        healthy_scored = _score(method, list(enumerate(plan.healthy)), request, image_size, device, console,
                                healthy_journal)
        runs.write_results(*runs.healthy_files(folder), healthy_scored.results)
        healthy_journal.discard()
    if any(case.boxes for _, case in selected):
        runs.write_boxes(folder / runs.BOXES, _box_rows(selected))
    runs.write_results(*plan.outputs[:2], scored.results)
    runs.write_json(plan.outputs[2] if plan.sharded else folder / runs.PROVENANCE, provenance)
    journal.discard()
    if distributed.active():  # torchrun: every rank has written its shard before rank 0 merges them
        distributed.barrier()
        merged = request.rank == 0 and runs.merge_shards(folder)
    else:
        merged = runs.merge_shards(folder) if plan.sharded else True
    if merged:
        remove_empty_journal(folder)
    return RunSummary(folder, len(selected), scored.wall_seconds, scored.predict_seconds, scored.network_seconds, merged)


def _provenance(
    plan: _Plan, settings: dict[str, Any], manifest: str, scored: _Scored, batch_one: list[float]
) -> dict[str, Any]:
    request = plan.request
    return {
        **environment(plan.device),
        "seed": request.seed,
        "data_manifest": manifest,
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
