"""The checkpoints shipped in the package match their manifest, and each phantom's checkpoints were
trained on one version of it (a checkpoint left over from an earlier phantom would show up here)."""

import json
import shlex
from collections import defaultdict
from importlib import resources
from pathlib import Path

import pytest

from anobench.diffusion.checkpoint import read_checkpoint
from anobench.hashing import sha256_file

SHIPPED = Path(str(resources.files("anobench") / "checkpoints"))
MANIFEST = json.loads((SHIPPED / "manifest.json").read_text())


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_each_shipped_checkpoint_is_the_file_its_manifest_entry_describes(name):
    entry = MANIFEST[name]
    path = SHIPPED / entry["file"]
    assert path.stem == name
    assert sha256_file(path) == entry["sha256"]
    training = read_checkpoint(path)["training"]
    assert training["data_manifest"] == entry["data_manifest"]
    assert training["steps"] == entry["steps"]
    command = shlex.split(entry["command"])
    assert command[:2] == ["anobench", "train"]
    assert command[command.index("--out") + 1] == f"anobench/checkpoints/{entry['file']}"


def test_the_checkpoints_of_one_phantom_were_trained_on_the_same_data():
    data_manifests = defaultdict(set)
    for entry in MANIFEST.values():
        command = shlex.split(entry["command"])
        data_manifests[command[command.index("--dataset") + 1]].add(entry["data_manifest"])
    assert set(data_manifests) == {"brain-phantom", "wrist-phantom"}
    assert all(len(hashes) == 1 for hashes in data_manifests.values()), dict(data_manifests)
