"""Run folders on their own: publishing a result set, merging shards."""

import json

import numpy as np
import pandas as pd
import pytest

from anobench import runs
from anobench.errors import AnobenchError


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
    rows_path, arrays_path, provenance = runs.shard_files(folder, rank, world_size)
    runs.write_results(rows_path, arrays_path, runs.CaseResults(rows, maps, None, None))
    runs.write_json(provenance, {"rank": rank})
    for name in (runs.CONFIG, runs.DATA_MANIFEST):
        runs.write_json(folder / runs.SHARDS / name, {"world_size": world_size})


def test_shards_merge_in_case_order_and_publish_one_set(tmp_path):
    write_shard(tmp_path, 0, 2, [0, 2])
    assert not runs.merge_shards(tmp_path, 2) and not runs.is_complete(tmp_path)  # rank 1 still missing
    write_shard(tmp_path, 1, 2, [1, 3])
    assert runs.merge_shards(tmp_path, 2)
    runs.check_complete(tmp_path)
    merged = runs.read_results(*runs.run_files(tmp_path))
    assert merged.rows["case_id"].tolist() == ["c0", "c1", "c2", "c3"]
    assert merged.maps[:, 0, 0].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert json.loads((tmp_path / runs.PROVENANCE).read_text())["shards"] == [{"rank": 0}, {"rank": 1}]
    assert not list(tmp_path.glob(f"{runs.STAGING}-*"))


def test_stale_shards_of_another_world_size_are_never_merged_silently(tmp_path):
    write_shard(tmp_path, 0, 2, [0, 2])
    write_shard(tmp_path, 1, 2, [1, 3])  # a finished earlier run with two ranks
    for rank in range(3):
        write_shard(tmp_path, rank, 3, list(range(rank, 6, 3)))
    with pytest.raises(AnobenchError, match="world sizes 2, 3; pass --world-size"):
        runs.merge_shards(tmp_path)
    assert runs.merge_shards(tmp_path, 3)
    assert runs.read_results(*runs.run_files(tmp_path)).rows["case_id"].tolist() == [f"c{i}" for i in range(6)]


def test_publish_replaces_the_old_set_and_drops_files_it_no_longer_has(tmp_path):
    staged = runs.staging(tmp_path)
    runs.write_json(staged / runs.CONFIG, {"seed": 0})
    runs.write_boxes(staged / runs.BOXES, pd.DataFrame(columns=runs.BOX_COLUMNS))
    runs.publish(tmp_path, staged)
    assert (tmp_path / runs.BOXES).is_file()
    again = runs.staging(tmp_path)
    runs.write_json(again / runs.CONFIG, {"seed": 1})
    runs.publish(tmp_path, again)
    listed = json.loads((tmp_path / runs.RESULT_SET).read_text())["files"]
    assert list(listed) == [runs.CONFIG] and not (tmp_path / runs.BOXES).exists()
    assert runs.result_set_damage(tmp_path) == []
    (tmp_path / runs.CONFIG).write_text('{"seed": 2}\n')  # same size, other content
    assert runs.result_set_damage(tmp_path) == [runs.CONFIG]


def test_results_take_the_users_umask_and_the_umask_is_left_alone(tmp_path):
    import os

    from anobench.atomic import atomic_write

    previous = os.umask(0o027)
    try:
        atomic_write(tmp_path / "result.txt", lambda path: path.write_text("x"))
        assert (tmp_path / "result.txt").stat().st_mode & 0o777 == 0o640
        assert os.umask(0o027) == 0o027  # atomic_write did not change it
    finally:
        os.umask(previous)
