"""The chunked store: round trips, every kind of damage named before it is read, and the order in
which a result set is made durable."""

import io
import json
import os
import zlib

import numpy as np
import pytest
from conftest import case_rows, fabricate_brain_run

from anobench.errors import AnobenchError
from anobench.store import chunks
from anobench.store import folder as store
from anobench.store.chunk_writer import OpenChunk
from anobench.store.results import CaseResults, open_results, read_results, write_results


def case_results(cases: int = 10, shape: tuple[int, int] = (6, 9), seed: int = 0) -> CaseResults:
    rng = np.random.default_rng(seed)
    rows = case_rows(cases, lesion_pixels=1)
    return CaseResults(
        rows,
        rng.random((cases, *shape), dtype=np.float32),
        rng.random((cases, *shape)) > 0.7,
        rng.random((cases, *shape)).astype(np.float16),
        rng.random((cases, *shape)) > 0.5,
        rng.random((cases, *shape)).astype(np.float16),
    )


def test_a_result_set_round_trips_chunk_by_chunk_with_booleans_packed(tmp_path):
    written = case_results()
    write_results(tmp_path, written, chunk_cases=4)
    stored = open_results(tmp_path)
    assert [chunk.cases for chunk in stored.arrays.chunks] == [4, 4, 2]
    back = read_results(tmp_path)
    for name, value in written.arrays().items():
        assert np.array_equal(getattr(back, name), value), name
    masks = chunks.chunk_path(tmp_path / chunks.ARRAYS, "masks", 0)
    assert np.load(masks).shape == (4, 6, 2)  # nine columns packed into two bytes
    picked = stored.gather(["maps", "masks"], np.array([9, 0, 5, 5]))
    assert np.array_equal(picked["maps"], written.maps[[9, 0, 5, 5]])
    visited = [rows.tolist() for rows, _ in stored.iterate(["maps"], np.array([1, 2, 8]))]
    assert visited == [[1, 2], [8]]  # only the chunks holding the asked cases are read


def test_a_result_set_written_before_chunks_is_read_as_it_is(tmp_path):
    written = case_results(cases=3)
    written.rows.to_parquet(tmp_path / "cases.parquet", index=False)
    np.savez_compressed(tmp_path / chunks.LEGACY, maps=written.maps, masks=written.masks)
    back = read_results(tmp_path)
    assert np.array_equal(back.maps, written.maps) and np.array_equal(back.masks, written.masks)
    assert back.images is None
    archive = tmp_path / chunks.LEGACY
    archive.write_bytes(archive.read_bytes()[:-40])  # truncated
    with pytest.raises(AnobenchError, match=f"{archive}.*damaged.*--overwrite"):
        read_results(tmp_path)


def rewrite_npy(path, array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    path.write_bytes(buffer.getvalue())


def header_declaring(path, shape):
    """The chunk file with a header that declares `shape` (the data left as it was)."""
    content = path.read_bytes()
    with open(path, "rb") as handle:
        np.lib.format.read_magic(handle)
        np.lib.format.read_array_header_1_0(handle)
        offset = handle.tell()
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": shape})
    path.write_bytes(header.getvalue() + content[offset:])


DAMAGE = {
    "missing": (lambda p: p.unlink(), "missing"),
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:-7]), "bytes, the run wrote"),
    "zero-filled": (lambda p: p.write_bytes(bytes(p.stat().st_size)), "magic string"),
    "data zeroed": (
        lambda p: p.write_bytes(p.read_bytes()[:128] + bytes(p.stat().st_size - 128)),
        "checksum differs",
    ),
    "other dtype": (lambda p: rewrite_npy(p, np.zeros((4, 6, 9), np.float64)), "holds float64"),
    "other shape": (lambda p: rewrite_npy(p, np.zeros((4, 9, 6), np.float32)), r"holds float32 \[4, 9, 6\]"),
    "enormous shape": (lambda p: header_declaring(p, (10**12, 10**6, 10**6)), r"holds float32 \[1000000000000"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_chunks_are_named_before_their_data_is_used(tmp_path, damage):
    write_results(tmp_path, case_results(), chunk_cases=4)
    path = chunks.chunk_path(tmp_path / chunks.ARRAYS, "maps", 1)
    spoil, reason = DAMAGE[damage]
    spoil(path)
    stored = open_results(tmp_path)
    with pytest.raises(AnobenchError, match=reason) as error:
        list(stored.iterate(["maps"]))
    assert str(path) in str(error.value) and "--overwrite" in str(error.value)


def test_an_index_that_does_not_describe_the_rows_is_refused_on_opening(tmp_path):
    write_results(tmp_path, case_results(), chunk_cases=4)
    index_path = tmp_path / chunks.ARRAYS / chunks.INDEX
    index = json.loads(index_path.read_text())
    for edit, reason in [
        (lambda i: i.update(cases=11), "it holds 11 cases, the rows list 10"),
        (lambda i: i["arrays"]["maps"].update(shape=[6, 10**9]), "are not one H × W"),
        (lambda i: i["arrays"]["maps"].update(dtype="float64"), "anobench keeps it as float32"),
        (lambda i: i["chunks"][1].update(first=5), "does not follow"),
        (lambda i: i.update(version=99), "chunk format version 99"),
    ]:
        changed = json.loads(json.dumps(index))
        edit(changed)
        index_path.write_text(json.dumps(changed))
        with pytest.raises(AnobenchError, match=reason):
            open_results(tmp_path)


def test_publication_flushes_every_file_before_its_rename_and_the_marker_last(tmp_path, monkeypatch):
    staged = store.staging(tmp_path)
    write_results(staged, case_results(), chunk_cases=4)
    store.write_json(staged / store.CONFIG, {"seed": 0}, durable=False)
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor):
        events.append(("fsync", os.path.realpath(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    def replace(source, target):
        events.append(
            (
                "replace",
                os.path.realpath(source),
                os.path.realpath(os.path.dirname(target)) + "/" + os.path.basename(target),
            )
        )
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    store.publish(tmp_path, staged)
    replaced = [(i, e) for i, e in enumerate(events) if e[0] == "replace"]
    flushes = [(i, e[1]) for i, e in enumerate(events) if e[0] == "fsync"]
    marker_at, (_, marker_source, marker) = replaced[-1]
    assert marker == str(tmp_path / store.RESULT_SET)  # the marker is the last file put in place
    for position, (_, source, target) in replaced:
        assert any(i < position and path == source for i, path in flushes), f"{target} renamed before a flush"
        folder, until = os.path.dirname(target), marker_at if target != marker else len(events)
        assert any(position < i < until and path == folder for i, path in flushes), f"{target}'s entry not flushed"
    listed = json.loads((tmp_path / store.RESULT_SET).read_text())["files"]
    chunk_file = f"{chunks.ARRAYS}/maps/000000.npy"
    content = (tmp_path / chunk_file).read_bytes()
    assert listed[chunk_file] == {"bytes": len(content), "crc32": zlib.crc32(content)}
    assert store.result_set_damage(tmp_path) == []
    (tmp_path / chunk_file).write_bytes(bytes(len(content)))  # zero-filled at its size: only a checksum sees it
    store.check_complete(tmp_path)
    assert store.result_set_damage(tmp_path) == [chunk_file]


def test_a_result_set_of_a_newer_anobench_is_named(tmp_path):
    write_results(tmp_path, case_results())
    store.seal(tmp_path)
    marker = json.loads((tmp_path / store.RESULT_SET).read_text())
    (tmp_path / store.RESULT_SET).write_text(json.dumps({**marker, "format": 3}))
    with pytest.raises(AnobenchError, match="written by a newer anobench"):
        store.check_complete(tmp_path)


def test_an_open_chunk_resumes_cut_back_to_the_batches_its_records_vouch_for(tmp_path):
    whole = case_results(cases=6)
    arrays = whole.arrays()
    batch = lambda a, b: {name: value[a:b] for name, value in arrays.items()}  # noqa: E731
    reference = OpenChunk(tmp_path / "reference", 0, 6, (6, 9))
    for a, b in ((0, 2), (2, 4), (4, 6)):
        reference.append(batch(a, b))
    interrupted = OpenChunk(tmp_path / "resumed", 0, 6, (6, 9))
    interrupted.append(batch(0, 2))
    interrupted.append(batch(2, 4))  # appended, but killed before its record was written
    resumed = OpenChunk.resume(tmp_path / "resumed", 0, 6, (6, 9), sorted(arrays), appended=2)
    resumed.append(batch(2, 4))
    resumed.append(batch(4, 6))
    assert resumed.close().files == reference.close().files  # the same bytes and checksums
    short = OpenChunk.resume(tmp_path / "resumed", 0, 6, (6, 9), sorted(arrays), appended=7)
    assert short is None  # a file shorter than the records say: the chunk starts afresh


def test_a_run_folder_of_an_older_anobench_is_evaluated_as_its_chunked_copy(tmp_path):
    from anobench.evaluation.pixel_protocol import evaluate_run

    fabricate_brain_run(tmp_path / "chunked", "m", 0.7)
    legacy = tmp_path / "legacy"
    for part in ("", store.HEALTHY):
        written = read_results(tmp_path / "chunked" / part)
        (legacy / part).mkdir(parents=True, exist_ok=True)
        written.rows.to_parquet(legacy / part / "cases.parquet", index=False)
        np.savez_compressed(legacy / part / chunks.LEGACY, **written.arrays())  # as anobench wrote before chunks
    for name in (store.CONFIG, store.PROVENANCE):
        (legacy / name).write_bytes((tmp_path / "chunked" / name).read_bytes())
    (legacy / store.RESULT_SET).write_text(json.dumps({"format": 1, "files": {}}))  # the marker of then
    old, new = evaluate_run(legacy), evaluate_run(tmp_path / "chunked")
    assert str(old.dice) == str(new.dice) and old.auprc == new.auprc  # str: NaN bins compare equal
    assert np.array_equal(old.resampled["dice all"], new.resampled["dice all"])
    assert old.calibrated.threshold == new.calibrated.threshold
