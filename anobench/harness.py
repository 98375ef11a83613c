"""Run a method over a dataset split and write a run folder (see `anobench.runs`).

job → collect → save: cases are read through the dataset plugin, optionally sharded (rank r of
world size w takes cases r, r+w, …), scored in batches by the method plugin, and written with one
row per case plus the maps. Metrics are not computed here: leaderboards derive them from the
folder. Per-case seconds are the batch's wall time (perf_counter, device synchronised) divided by
its size.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from anobench import registry, runs
from anobench.api import Batch, Case, DatasetContext, MethodContext
from anobench.diffusion.presets import get_preset
from anobench.errors import AnobenchError
from anobench.metrics import size_bin
from anobench.provenance import environment
from anobench.timing import synchronize


@dataclass(frozen=True)
class RunRequest:
    method: str
    dataset: str
    split: str = "test"
    preset: str = "cpu-small"
    checkpoint: Path | None = None
    method_options: dict[str, str] = field(default_factory=dict)
    dataset_options: dict[str, str] = field(default_factory=dict)
    batch_size: int = 8
    seed: int = 0
    device: str | None = None
    out: Path | None = None
    overwrite: bool = False
    rank: int = 0
    world_size: int = 1
    limit: int | None = None


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


def _select_device(requested: str | None) -> torch.device:
    if requested is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise AnobenchError(f"device {requested!r} was asked for but torch sees no CUDA device")
    return torch.device(requested)


def _shard(cases: list[Case], rank: int, world_size: int) -> list[tuple[int, Case]]:
    return [(index, case) for index, case in enumerate(cases) if index % world_size == rank]


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.2f} img/s"),
        TimeRemainingColumn(),
        console=console,
    )


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
    if request.world_size == 1:
        outputs: tuple[Path, ...] = runs.run_files(folder)
    else:
        outputs = runs.shard_files(folder, request.rank, request.world_size)
    runs.prepare_folder(folder, request.overwrite, outputs)
    device = _select_device(request.device)
    preset = get_preset(request.preset)

    dataset = dataset_plugin.open(
        request.dataset_options, DatasetContext(image_size=preset.image_size)
    )
    cases = list(dataset.cases(request.split))
    if request.limit is not None:
        cases = cases[: request.limit]
    selected = _shard(cases, request.rank, request.world_size)
    method = method_plugin.create(
        request.method_options,
        MethodContext(request.dataset, preset.name, preset.image_size, device, request.checkpoint),
    )

    config = {
        **{key: value for key, value in asdict(request).items() if key not in ("out", "overwrite", "rank")},
        "checkpoint": str(request.checkpoint) if request.checkpoint else None,
        "image_size": preset.image_size,
        "method_settings": method.settings(),
        "dataset_settings": dataset.settings(),
    }
    runs.write_json(folder / runs.CONFIG, config)

    rows: list[dict[str, Any]] = []
    maps, reconstructions = [], []
    predict_seconds = network_seconds = 0.0
    start = time.perf_counter()
    with _progress(console) as progress, torch.inference_mode():
        task = progress.add_task(f"{request.method} on {request.dataset}", total=len(selected), rate=0.0)
        for first in range(0, len(selected), request.batch_size):
            chunk = selected[first : first + request.batch_size]
            batch = Batch(
                images=torch.stack([torch.from_numpy(case.image) for _, case in chunk])[:, None],
                case_ids=[case.case_id for _, case in chunk],
                seed=request.seed,
            )
            synchronize(device)
            batch_start = time.perf_counter()
            prediction = method.predict(batch)
            batch_maps = prediction.maps.float().cpu().numpy()[:, 0]
            synchronize(device)
            batch_seconds = time.perf_counter() - batch_start
            predict_seconds += batch_seconds
            network_seconds += prediction.network_seconds
            if batch_maps.shape != tuple(batch.images.shape[:1] + batch.images.shape[2:]):
                raise AnobenchError(
                    f"method {request.method!r} returned maps of shape {tuple(prediction.maps.shape)} "
                    f"for images of shape {tuple(batch.images.shape)}"
                )
            maps.append(batch_maps)
            if prediction.reconstructions is not None:
                reconstructions.append(prediction.reconstructions.float().cpu().numpy()[:, 0])
            for (index, case), case_map in zip(chunk, batch_maps):
                lesion = int(case.mask.sum()) if case.mask is not None else 0
                rows.append(
                    {
                        "index": index,
                        "case_id": case.case_id,
                        "subject_id": case.subject_id,
                        "lesion_pixels": lesion,
                        "size_bin": size_bin(lesion, *case.image.shape) if case.mask is not None else None,
                        "score": float(case_map.mean()),
                        "nfe": prediction.nfe,
                        "seconds": batch_seconds / len(chunk),
                        "batch_size": len(chunk),
                    }
                )
            done = first + len(chunk)
            progress.update(task, completed=done, rate=done / (time.perf_counter() - start))
    wall_seconds = time.perf_counter() - start

    image_shape = cases[0].image.shape if cases else (preset.image_size, preset.image_size)
    results = runs.CaseResults(
        rows=pd.DataFrame(rows, columns=_ROW_COLUMNS),
        maps=np.concatenate(maps) if maps else np.zeros((0, *image_shape), np.float32),
        masks=_stack_masks([case for _, case in selected]),
        reconstructions=np.concatenate(reconstructions) if len(reconstructions) == len(maps) and maps else None,
    )
    provenance = {
        **environment(device),
        "seed": request.seed,
        "data_manifest": dataset.manifest_hash(),
        "checkpoint_sha256": (method.settings().get("checkpoint") or {}).get("sha256"),
        "timing": {
            "wall_seconds": wall_seconds,
            "predict_seconds": predict_seconds,
            "network_seconds": network_seconds,
            "cases": len(selected),
        },
    }
    if request.world_size == 1:
        runs.write_results(*runs.run_files(folder), results)
        runs.write_json(folder / runs.PROVENANCE, provenance)
        merged = True
    else:
        rows_path, arrays_path, provenance_path = runs.shard_files(folder, request.rank, request.world_size)
        runs.write_results(rows_path, arrays_path, results)
        runs.write_json(provenance_path, provenance)
        merged = runs.merge_shards(folder)
    return RunSummary(folder, len(selected), wall_seconds, predict_seconds, network_seconds, merged)


def _stack_masks(cases: list[Case]) -> np.ndarray | None:
    if not cases or any(case.mask is None for case in cases):
        return None
    return np.stack([case.mask for case in cases])


_ROW_COLUMNS = ["index", "case_id", "subject_id", "lesion_pixels", "size_bin", "score", "nfe", "seconds", "batch_size"]
