"""Training sources: the THOR brain training set is IXI's train split plus ATLAS's lesion-free slices."""

from pathlib import Path

import numpy as np
import pytest
from fabricated import ATLAS_SHAPE, write_caps_subject, write_scan

from anobench.errors import AnobenchError
from anobench.running.sources import options_for, parse_data_roots, roots_for
from anobench.training.data import join_sources, load_training_images, parse_sources
from anobench.training.trainer import TrainConfig, train

pytestmark = pytest.mark.filterwarnings("ignore:.*empty lesion masks")  # the lesion-free scan, on purpose


def fabricate_brain_data(root):
    for number in range(10):
        write_caps_subject(root / "ixi", number)
    write_scan(root / "atlas", "sub-r001s001")  # lesion in slice 95: test
    write_scan(root / "atlas", "sub-r001s002", mask=np.zeros(ATLAS_SHAPE, np.uint8))  # none: train-healthy
    return {"ixi": root / "ixi", "atlas": root / "atlas"}


def test_sources_parse_and_join():
    assert join_sources(["ixi", "atlas:train-healthy"]) == "ixi+atlas:train-healthy"
    assert [(s.dataset, s.split) for s in parse_sources("ixi+atlas:train-healthy")] == [
        ("ixi", "train"),
        ("atlas", "train-healthy"),
    ]
    assert parse_data_roots(["ixi=/a", "atlas=/b"]) == {"ixi": Path("/a"), "atlas": Path("/b")}
    with pytest.raises(AnobenchError, match="named twice"):
        parse_sources("ixi+ixi")
    with pytest.raises(AnobenchError, match="each is NAME=DIR"):
        parse_data_roots(["/a", "/b"])
    # a run names its own folder plainly and another data set's by name
    assert roots_for(["/a", "ixi=/b"], "atlas") == (Path("/a"), {"ixi": Path("/b")})
    assert roots_for(["atlas=/a", "ixi=/b"], "atlas") == (Path("/a"), {"ixi": Path("/b")})
    with pytest.raises(AnobenchError, match="two folders for atlas"):
        roots_for(["/a", "atlas=/c"], "atlas")
    # and its options: plain or under its name are its own, under another name that data set's
    assert options_for({"slice": "90", "atlas.z_range": "0:9", "ixi.split_lists": "/l"}, "atlas") == (
        {"slice": "90", "z_range": "0:9"},
        {"ixi": {"split_lists": "/l"}},
    )
    with pytest.raises(AnobenchError, match="with several training sources each --data-root is NAME=DIR"):
        load_training_images("ixi+atlas:train-healthy", 64, {}, parse_data_roots(["/a", "ixi=/b"]))


def test_combined_sources_concatenate_and_hash_together(tmp_path):
    roots = fabricate_brain_data(tmp_path)
    ixi_only, ixi_manifest, _ = load_training_images("ixi", 64, {}, roots["ixi"])
    both, both_manifest, _ = load_training_images(
        "ixi+atlas:train-healthy", 64, {"atlas.exclude_artefacts": "false"}, roots
    )
    assert len(both) == len(ixi_only) + 1 and both.shape[1:] == (1, 64, 64)
    assert both_manifest != ixi_manifest
    with pytest.raises(AnobenchError, match="NAME.key=value"):
        load_training_images("ixi+atlas:train-healthy", 64, {"slice": "95"}, roots)
    with pytest.raises(AnobenchError, match="has no split 'healthy'"):
        load_training_images("atlas:healthy", 64, {"exclude_artefacts": "false"}, roots["atlas"])


def test_training_on_the_combined_set_records_a_command_that_repeats_it(tmp_path):
    roots = fabricate_brain_data(tmp_path)
    config = TrainConfig(dataset="ixi+atlas:train-healthy", steps=1, batch_size=2)
    entry = train(config, tmp_path / "brain.pt", {"atlas.exclude_artefacts": "false"}, "cpu", data_root=roots)
    assert "--dataset ixi --dataset atlas:train-healthy" in entry["command"]
    assert f"--data-root atlas={roots['atlas']} --data-root ixi={roots['ixi']}" in entry["command"]
    assert "--set atlas.exclude_artefacts=false" in entry["command"]
