"""The checkpoints shipped in the package match their manifest, each was trained on the data its
phantom's generator makes now (`tests/phantom_manifests.py`, which test_phantom_bytes regenerates),
and every built-in method finds its checkpoint on the brain phantom without being given one."""

import json
import shlex
from importlib import resources
from pathlib import Path

import pytest
import torch
from phantom_manifests import PUBLISHED

from anobench import registry
from anobench.api import MethodContext
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


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_each_shipped_checkpoint_was_trained_on_the_data_its_phantom_generates_now(name):
    """The manifest the current generator makes (regenerated and compared by test_phantom_bytes), not
    merely the one the other checkpoints agree on: a checkpoint of an older phantom fails here."""
    entry = MANIFEST[name]
    command = shlex.split(entry["command"])
    dataset = command[command.index("--dataset") + 1]
    assert dataset in PUBLISHED, f"{name} was trained on {dataset}, which no generated phantom manifest names"
    assert entry["data_manifest"] == PUBLISHED[dataset]


NETWORK_FREE = {"intensity"}  # builds from nothing (tested below)
BUILT_IN = sorted(
    name
    for name, entry in registry.methods.entries().items()
    if entry.distribution == "anobench" and name not in NETWORK_FREE
)
# AutoDDPM calibrates its mask threshold on healthy images when it is built; a given one skips that
# and nothing else.
OPTIONS = {"autoddpm": {"threshold": "0.1"}}


@pytest.mark.parametrize("method", BUILT_IN)
def test_every_built_in_method_builds_on_the_brain_phantom_from_a_shipped_checkpoint(method):
    """`anobench run --method NAME --dataset brain-phantom` needs no training first."""
    cpu = torch.device("cpu")
    context = MethodContext("brain-phantom", "cpu-small", 64, cpu, training_source="brain-phantom:train")
    checkpoint = registry.methods.get(method).create(OPTIONS.get(method, {}), context).settings()["checkpoint"]
    assert Path(checkpoint["path"]).parent == SHIPPED
    assert checkpoint["sha256"] == MANIFEST[Path(checkpoint["path"]).stem]["sha256"]


@pytest.mark.parametrize("method", ["thor", "ddpm", "autoddpm"])
def test_the_t2_phantom_runs_its_gaussian_methods_from_the_shipped_t2_checkpoint(method):
    context = MethodContext(
        "brain-phantom-t2",
        "cpu-small",
        64,
        torch.device("cpu"),
        training_source="brain-phantom-t2:train",
        modality="t2",
    )
    checkpoint = registry.methods.get(method).create(OPTIONS.get(method, {}), context).settings()["checkpoint"]
    assert Path(checkpoint["path"]) == SHIPPED / "brain-phantom-t2-gaussian-cpu-small.pt"
    assert checkpoint["sha256"] == MANIFEST["brain-phantom-t2-gaussian-cpu-small"]["sha256"]


def test_the_network_free_baseline_needs_no_checkpoint():
    context = MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), lesion_contrast="dark")
    for method in NETWORK_FREE:
        assert "checkpoint" not in registry.methods.get(method).create({}, context).settings()


def _options(words: list[str]) -> dict[str, str]:
    """`--key value` pairs of a command line (a flag maps to "")."""
    options, key = {}, None
    for word in words:
        if word.startswith("--"):
            key = word
            options[key] = ""
        elif key is not None:
            options[key], key = word, None
    return options


def test_the_training_script_trains_each_shipped_brain_checkpoint_as_its_manifest_says():
    """bench/train_brain_checkpoints.sh is how the brain checkpoints are remade: its commands must be the
    manifest's (an option changed in one place only would make an unshipped checkpoint)."""
    script = (Path(__file__).parents[1] / "bench" / "train_brain_checkpoints.sh").read_text()
    common = shlex.split(script.split('train() { "$BIN/anobench" train ', 1)[1].split(' "$@"', 1)[0])
    scripted = [
        _options(common + shlex.split(line.removeprefix("train ").replace('"$OUT', '"anobench/checkpoints')))
        for line in script.splitlines()
        if line.startswith("train --")
    ]
    shipped = [
        _options(shlex.split(entry["command"])[2:])
        for entry in MANIFEST.values()
        if entry["command"].split()[3] == "brain-phantom"
    ]
    assert sorted(sorted(options.items()) for options in scripted) == sorted(
        sorted(options.items()) for options in shipped
    )
