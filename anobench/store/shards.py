"""Sharded runs: rank r of w scores cases r, r + w, … into a result set of its own under `shards/`,
and the joined set is published as the run's once every rank has finished.

    shards/config.json, shards/data-manifest.json   as in a run folder (every rank writes the same)
    shards/rank{r}-of-{w}/                          the rank's result set (rows, arrays, boxes)
    shards/rank{r}-of-{w}.json                      its provenance, written last: the rank is done

The join is streamed: the rows are merged by their position in the split and the arrays are written
again a chunk at a time, each chunk gathered from the ranks' chunks that hold its cases.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from anobench.errors import AnobenchError
from anobench.store import chunks
from anobench.store.chunk_writer import ChunkSetWriter
from anobench.store.folder import CONFIG, DATA_MANIFEST, PROVENANCE, SHARDS, publish, read_json, staging, write_json
from anobench.store.results import StoredResults, open_results
from anobench.store.rows import BOX_COLUMNS, BOXES, CASES, read_rows, write_boxes, write_rows


def shard_folder(folder: Path, rank: int, world_size: int) -> Path:
    """Where rank `rank` of `world_size` writes its result set."""
    return folder / SHARDS / f"rank{rank}-of-{world_size}"


def shard_marker(folder: Path, rank: int, world_size: int) -> Path:
    """The rank's provenance, written once its result set is complete."""
    return folder / SHARDS / f"rank{rank}-of-{world_size}.json"


def join_result_sets(parts: list[StoredResults], out: Path) -> None:
    """Write the union of `parts` into `out` as one result set, rows ordered by their `index` (the
    position in the split), a chunk at a time."""
    shapes = {part.arrays.case_shape for part in parts if len(part.rows)}
    if len(shapes) > 1:
        raise AnobenchError(f"the shards of {out.parent} hold maps of different sizes: {sorted(shapes)}")
    height, width = shapes.pop() if shapes else parts[0].arrays.case_shape
    rows = pd.concat([part.rows for part in parts], ignore_index=True)
    source = np.concatenate([np.full(len(part.rows), k) for k, part in enumerate(parts)])
    within = np.concatenate([np.arange(len(part.rows)) for part in parts])
    order = np.argsort(rows["index"].to_numpy(), kind="stable")
    names = [name for name in chunks.DTYPES if all(part.has(name) for part in parts if len(part.rows))]
    size = chunks.chunk_cases(height, width)
    writer = ChunkSetWriter(out / chunks.ARRAYS, (height, width))
    for first in range(0, len(order), size):
        picked = order[first : first + size]
        joined = {name: np.empty((len(picked), height, width), chunks.DTYPES[name]) for name in names}
        for k, part in enumerate(parts):
            mine = np.flatnonzero(source[picked] == k)
            if mine.size:
                for name, value in part.gather(names, within[picked[mine]]).items():
                    joined[name][mine] = value
        writer.add(joined)
    writer.close(len(order))
    write_rows(out / CASES, rows.iloc[order].reset_index(drop=True))


def merge_shards(folder: Path, world_size: int | None = None) -> bool:
    """Publish the joined shards of `world_size` ranks as the run's result set once all are done; True
    if merged. Without `world_size`, the shards found must all be of one world size."""
    found = sorted((folder / SHARDS).glob("rank*-of-*.json"))
    sizes = sorted({int(path.stem.rsplit("-", 1)[1]) for path in found})
    if world_size is None:
        if not sizes:
            raise AnobenchError(f"{folder} has no finished shards to merge")
        if len(sizes) > 1:
            raise AnobenchError(
                f"{folder / SHARDS} holds shards of world sizes {', '.join(map(str, sizes))}; pass --world-size "
                "to say which run to merge (the others are stale)"
            )
        world_size = sizes[0]
    markers = [shard_marker(folder, rank, world_size) for rank in range(world_size)]
    if not all(marker.is_file() for marker in markers):
        return False
    ranks = [shard_folder(folder, rank, world_size) for rank in range(world_size)]
    staged = staging(folder)
    join_result_sets([open_results(rank) for rank in ranks], staged)
    boxes = [read_rows(rank / BOXES, BOX_COLUMNS) for rank in ranks if (rank / BOXES).is_file()]
    if boxes:
        write_boxes(staged / BOXES, pd.concat(boxes, ignore_index=True).sort_values("index", kind="stable"))
    for name in (CONFIG, DATA_MANIFEST):
        shutil.copyfile(folder / SHARDS / name, staged / name)
    provenance = [read_json(marker) for marker in markers]
    write_json(staged / PROVENANCE, {**provenance[0], "shards": provenance}, durable=False)
    publish(folder, staged)
    return True
