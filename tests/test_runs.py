"""Run folders on their own: publishing a result set, merging shards."""

import json

import numpy as np
import pandas as pd
import pytest

from anobench.errors import AnobenchError
from anobench.store import folder as store
from anobench.store.results import CaseResults, read_results, write_results
from anobench.store.rows import BOX_COLUMNS, BOXES, write_boxes
from anobench.store.shards import merge_shards, shard_folder, shard_marker


def write_shard(folder, rank, world_size, cases):
    rows = pd.DataFrame(
        {
            "index": cases,
            "case_id": [f"c{i}" for i in cases],
            "subject_id": [None] * len(cases),
            "lesion_pixels": [0] * len(cases),
            "size_bin": [None] * len(cases),
            "score": [0.0] * len(cases),
            "nfe": [1] * len(cases),
            "seconds": [0.1] * len(cases),
            "batch_size": [1] * len(cases),
        }
    )
    maps = np.stack([np.full((4, 4), float(i), np.float32) for i in cases])
    write_results(shard_folder(folder, rank, world_size), CaseResults(rows, maps, None, None))
    store.write_json(shard_marker(folder, rank, world_size), {"rank": rank})
    for name in (store.CONFIG, store.DATA_MANIFEST):
        store.write_json(folder / store.SHARDS / name, {"world_size": world_size})


def test_shards_merge_in_case_order_and_publish_one_set(tmp_path):
    write_shard(tmp_path, 0, 2, [0, 2])
    assert not merge_shards(tmp_path, 2) and not store.is_complete(tmp_path)  # rank 1 still missing
    write_shard(tmp_path, 1, 2, [1, 3])
    assert merge_shards(tmp_path, 2)
    store.check_complete(tmp_path)
    merged = read_results(tmp_path)
    assert merged.rows["case_id"].tolist() == ["c0", "c1", "c2", "c3"]
    assert merged.maps[:, 0, 0].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert json.loads((tmp_path / store.PROVENANCE).read_text())["shards"] == [{"rank": 0}, {"rank": 1}]
    assert not list(tmp_path.glob(f"{store.STAGING}-*"))


def test_stale_shards_of_another_world_size_are_never_merged_silently(tmp_path):
    write_shard(tmp_path, 0, 2, [0, 2])
    write_shard(tmp_path, 1, 2, [1, 3])  # a finished earlier run with two ranks
    for rank in range(3):
        write_shard(tmp_path, rank, 3, list(range(rank, 6, 3)))
    with pytest.raises(AnobenchError, match="world sizes 2, 3; pass --world-size"):
        merge_shards(tmp_path)
    assert merge_shards(tmp_path, 3)
    assert read_results(tmp_path).rows["case_id"].tolist() == [f"c{i}" for i in range(6)]


def test_publish_replaces_the_old_set_and_drops_files_it_no_longer_has(tmp_path):
    staged = store.staging(tmp_path)
    store.write_json(staged / store.CONFIG, {"seed": 0})
    write_boxes(staged / BOXES, pd.DataFrame(columns=BOX_COLUMNS))
    store.publish(tmp_path, staged)
    assert (tmp_path / BOXES).is_file()
    again = store.staging(tmp_path)
    store.write_json(again / store.CONFIG, {"seed": 1})
    store.publish(tmp_path, again)
    listed = json.loads((tmp_path / store.RESULT_SET).read_text())["files"]
    assert list(listed) == [store.CONFIG] and not (tmp_path / BOXES).exists()
    assert store.result_set_damage(tmp_path) == []
    (tmp_path / store.CONFIG).write_text('{"seed": 2}\n')  # same size, other content
    assert store.result_set_damage(tmp_path) == [store.CONFIG]


def test_results_take_the_users_umask_and_the_umask_is_left_alone(tmp_path):
    import os

    from anobench.store.atomic import atomic_write

    previous = os.umask(0o027)
    try:
        atomic_write(tmp_path / "result.txt", lambda path: path.write_text("x"))
        assert (tmp_path / "result.txt").stat().st_mode & 0o777 == 0o640
        assert os.umask(0o027) == 0o027  # atomic_write did not change it
    finally:
        os.umask(previous)
