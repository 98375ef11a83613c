"""A method over the cases of a split, a batch at a time: per-case rows, maps and timings.

Each batch is loaded when its turn comes (so `--limit` and shards decode only what they score),
predicted through the plugin contract, timed (CUDA events on a GPU, perf_counter on the CPU; each
case gets its batch's time over its size) and journalled at once, so that an interrupted run
resumes from its last finished batch: its arrays are appended to the files of the result set's
chunk being filled (about `chunks.CHUNK_BYTES` of maps each), so memory holds a batch, not the run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd
from rich.console import Console

from anobench.api import Batch, Case, Method
from anobench.progress import StageProgress
from anobench.running.contract import checked_prediction, plugin_call
from anobench.running.journal import BatchJournal, BatchRecord
from anobench.running.sources import OpenSplit
from anobench.store import chunks
from anobench.store.rows import size_bin

if TYPE_CHECKING:
    import torch

    from anobench.devices import Stopwatch


@dataclass(frozen=True)
class ScoringOptions:
    """What scoring takes from a run request."""

    method: str  # the method's name, for messages
    batch_size: int
    seed: int


@dataclass
class Scored:
    rows: pd.DataFrame  # one row per case, in the order of the selection
    boxes: pd.DataFrame  # one row per annotated box of the scored cases
    wall_seconds: float
    predict_seconds: float
    network_seconds: float
    resumed_cases: int  # taken from the journal of an interrupted attempt


def score_cases(
    method: Method,
    source: OpenSplit,
    selected: list[tuple[int, str]],
    options: ScoringOptions,
    image_size: int,
    device: torch.device,
    console: Console,
    journal: BatchJournal,
) -> Scored:
    """Score the cases (position in the split, case id) in batches, loading each batch when its turn
    comes; per-case rows carry the batch's time divided by its size. Each batch's arrays are appended
    to the journal's open chunk (`journal.arrays_folder`, a result set's arrays once this returns).

    Chunks already committed by an interrupted earlier attempt, and the batches of the chunk it was
    filling that its records vouch for, are kept without loading their cases; every batch scored here
    is journalled as soon as it is done.
    """
    import torch

    from anobench.devices import Stopwatch

    size = options.batch_size
    starts = list(range(0, len(selected), size))
    per_chunk = chunks.chunk_cases(image_size, image_size, size) // size
    groups = [starts[i : i + per_chunk] for i in range(0, len(starts), per_chunk)]
    committed = journal.committed()[: len(groups)]
    stopwatch = Stopwatch(device)
    start, scored_here = time.perf_counter(), 0
    progress = StageProgress(console, f"{options.method} on {source}", len(selected))
    with progress, torch.inference_mode():
        for number, group in enumerate(groups):
            if number < len(committed):
                progress.update(committed[number].chunk.stop, resumed=True)
                continue
            sizes = [len(selected[first : first + size]) for first in group]
            chunk, records = journal.open_chunk(number, group, sizes, (image_size, image_size))
            progress.update(group[0] + sum(sizes[: len(records)]), resumed=True)
            for first in group[len(records) :]:
                batch = [(index, source.load(case_id)) for index, case_id in selected[first : first + size]]
                rows, arrays, seconds = _score_batch(method, batch, options, stopwatch, first // size)
                chunk.append({**arrays, **_case_arrays([case for _, case in batch])})
                records.append(BatchRecord(first, rows, _box_rows(batch), *seconds, sorted(chunk.files)))
                journal.record(number, records[-1])
                scored_here += len(batch)
                progress.update(first + len(batch))
            committed.append(journal.commit(number, group[0], chunk, records))
    journal.close(committed, (image_size, image_size))
    return Scored(
        *journal.rows(committed),
        time.perf_counter() - start,
        sum(c.predict_seconds for c in committed),
        sum(c.network_seconds for c in committed),
        len(selected) - scored_here,
    )


def _case_arrays(cases: list[Case]) -> dict[str, np.ndarray | None]:
    """What a batch's cases bring to the result set: masks, inputs, negative regions, brain masks (each
    only when every case has it)."""
    return {
        "masks": _stack([case.mask for case in cases]),
        "images": _stack([case.image for case in cases]),
        "negative_regions": _stack([case.negative_region for case in cases]),
        "brain_masks": _stack([case.brain_mask for case in cases]),
    }


def _score_batch(
    method: Method, chunk: list[tuple[int, Case]], options: ScoringOptions, stopwatch: Stopwatch, number: int
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray | None], tuple[float, float]]:
    """One batch through the method: its rows, its arrays (maps, reconstructions) and its seconds
    (inside `predict`, inside the network)."""
    import torch

    masks = [case.brain_mask for _, case in chunk]
    batch = Batch(
        images=torch.stack([torch.from_numpy(case.image) for _, case in chunk])[:, None],
        case_ids=[case.case_id for _, case in chunk],
        seed=options.seed,
        brain_masks=None
        if any(m is None for m in masks)
        else torch.stack([torch.from_numpy(m) for m in masks])[:, None],
    )
    stopwatch.start()
    named = ", ".join(batch.case_ids[:3]) + (f" and {len(batch.case_ids) - 3} more" if len(batch.case_ids) > 3 else "")
    with plugin_call(f"method {options.method!r} failed on case(s) {named}"):
        prediction = method.predict(batch)
    batch_maps, batch_reconstructions = checked_prediction(options.method, prediction, batch.images, batch.case_ids)
    batch_seconds = stopwatch.stop()
    rows = [
        _row(index, case, case_map, int(prediction.nfe), batch_seconds / len(chunk), len(chunk), number)
        for (index, case), case_map in zip(chunk, batch_maps)
    ]
    arrays = {"maps": batch_maps, "reconstructions": batch_reconstructions}
    return rows, arrays, (batch_seconds, float(prediction.network_seconds))


def _box_rows(chunk: list[tuple[int, Case]]) -> list[dict[str, Any]]:
    return [
        {
            "index": index,
            "case_id": case.case_id,
            "label": box.label,
            "top": box.top,
            "left": box.left,
            "bottom": box.bottom,
            "right": box.right,
        }
        for index, case in chunk
        for box in case.boxes
    ]


def batch_one_seconds(
    method: Method,
    method_name: str,
    cases: list[Case],
    seed: int,
    device: torch.device,
    count: int,
    console: Console,
) -> list[float]:
    """Seconds per image at batch size 1 for up to `count` cases, after one warm-up call, through the
    same `predict` that made the results (the maps are discarded)."""
    import torch

    from anobench.devices import Stopwatch

    stopwatch = Stopwatch(device)
    samples: list[float] = []
    timed = cases[: count + 1] if count > 0 else []
    if not timed:
        return samples
    progress = StageProgress(console, f"{method_name}: latency at batch size 1 (1 warm-up call)", len(timed))
    with progress, torch.inference_mode():
        for position, case in enumerate(timed):
            mask = None if case.brain_mask is None else torch.from_numpy(case.brain_mask)[None, None]
            batch = Batch(torch.from_numpy(case.image)[None, None], [case.case_id], seed, mask)
            stopwatch.start()
            with plugin_call(f"method {method_name!r} failed on case {case.case_id!r} (batch size 1)"):
                prediction = method.predict(batch)
            checked_prediction(method_name, prediction, batch.images, [case.case_id])
            seconds = stopwatch.stop()
            if position > 0:
                samples.append(seconds)
            progress.update(position + 1)
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
        "slice_index": case.slice_index,
    }


def _stack(arrays: Sequence[np.ndarray | None]) -> np.ndarray | None:
    """The per-case arrays stacked, or None unless every case has one."""
    present = [array for array in arrays if array is not None]
    return np.stack(present) if present and len(present) == len(arrays) else None
