"""A run request, checked before any data is read, and the healthy splits it scores beside its split."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from anobench import registry
from anobench.diffusion.presets import PRECISION_NAMES, get_preset
from anobench.errors import AnobenchError
from anobench.running.contract import checked_dataset, plugin_call
from anobench.running.sources import OpenSplit, open_source, parse_source
from anobench.store.folder import HEALTHY, HEALTHY_TEST


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
    data_roots: dict[str, Path] = field(default_factory=dict)  # folders of other data sets by name (healthy split)
    other_dataset_options: dict[str, dict[str, str]] = field(default_factory=dict)  # `--data NAME.KEY=V`, by name
    batch_size: int = 8
    seed: int = 0
    device: str | None = None
    out: Path | None = None
    overwrite: bool = False
    rank: int = 0
    world_size: int = 1
    limit: int | None = None
    healthy_split: str | None = None  # also scored, into healthy/: SPLIT, NAME:SPLIT, or auto (the declared one)
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
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage of the run, in their order


def default_folder(request: RunRequest) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / request.dataset / f"{request.method}-{stamp}"


def healthy_source(request: RunRequest, scored: OpenSplit, image_size: int, wanted: str) -> OpenSplit:
    """The healthy split `wanted` names (SPLIT, NAME:SPLIT, or auto), opened."""
    if wanted == "auto":
        declared = scored.dataset.evaluation.healthy_split
        if declared is None:
            raise AnobenchError(
                f"dataset {request.dataset!r} declares no healthy split; name one with --healthy-split "
                "(sweep: --healthy-split none scores none)"
            )
        wanted = declared
    name = parse_source(wanted, default_dataset=request.dataset)
    if name.dataset == request.dataset:
        if name.split not in scored.dataset.splits:
            raise AnobenchError(
                f"dataset {request.dataset!r} has no split {name.split!r}; "
                f"available: {', '.join(scored.dataset.splits)}"
            )
        return OpenSplit(name, scored.dataset, request.dataset_options, request.data_root, image_size)
    root = request.data_roots.get(name.dataset)  # another data set: its own folder and options, by name
    shared = scored.dataset.evaluation.passes_on
    options = {key: value for key, value in request.dataset_options.items() if key in shared}
    options |= dict(scored.dataset.evaluation.healthy_options)
    options |= request.other_dataset_options.get(name.dataset, {})
    with plugin_call(f"dataset {name.dataset!r} could not be opened", ("data set", name.dataset, "--data")):
        dataset = checked_dataset(name.dataset, open_source(name, options, image_size, root))
    return OpenSplit(name, dataset, options, root, image_size)


# the fields of a run's config.json that say what was asked (the rest is what it resolved to)
REPEATED_FIELDS = (
    *("method", "dataset", "split", "preset", "method_options", "dataset_options", "other_dataset_options"),
    *("batch_size", "seed", "device", "limit", "latency_cases", "precision", "compile"),
)


def recorded_request(config_file: Path) -> dict[str, Any]:
    """The RunRequest fields a run folder's config.json (or the folder) records (`anobench run --config`): what was
    asked, with its checkpoint, data folders and healthy split ("auto" where the run also scored the
    held-out healthy split, which only auto does). Shards are not repeated: the folder's one run is."""
    from anobench.store.folder import CONFIG, read_json

    config_file = config_file / CONFIG if config_file.is_dir() else config_file
    try:
        config = read_json(config_file)
    except AnobenchError as error:
        raise AnobenchError(f"--config needs a run folder's {CONFIG}: {error}") from None
    missing = [name for name in REPEATED_FIELDS if name not in config]
    if missing:
        raise AnobenchError(f"{config_file} is not the config.json of an anobench run (it lacks {', '.join(missing)})")
    fields = {name: config[name] for name in REPEATED_FIELDS}
    healthy = config.get("healthy_split")
    paths = {
        "checkpoint": Path(config["checkpoint"]) if config.get("checkpoint") else None,
        "data_root": Path(config["data_root"]) if config.get("data_root") else None,
        "data_roots": {name: Path(folder) for name, folder in config.get("data_roots", {}).items()},
        "healthy_split": "auto" if "healthy_test_split" in config else healthy,
    }
    return fields | paths


def check_request(request: RunRequest) -> None:
    """The mistakes a request can hold before any data is read; each an AnobenchError."""
    if request.batch_size < 1:
        raise AnobenchError(f"batch size must be at least 1, got {request.batch_size}")
    if request.world_size < 1 or not 0 <= request.rank < request.world_size:
        raise AnobenchError(f"rank {request.rank} is not within a world size of {request.world_size}")
    if request.limit is not None and request.limit < 1:
        raise AnobenchError(f"--limit must be at least 1, got {request.limit}")
    if request.healthy_split is not None and request.world_size > 1:
        raise AnobenchError("--healthy-split cannot be combined with --world-size > 1")
    if request.precision not in PRECISION_NAMES:
        raise AnobenchError(f"precision must be one of {', '.join(PRECISION_NAMES)}, got {request.precision!r}")
    registry.methods.entry(request.method)
    registry.datasets.entry(request.dataset)
    get_preset(request.preset)


def healthy_splits(request: RunRequest, scored: OpenSplit, image_size: int) -> dict[str, OpenSplit]:
    """The healthy splits scored beside the run's, by the folder they go to: `healthy` (calibration:
    `--healthy-split`), and with `--healthy-split auto` on a data set of volumes that declares one,
    `healthy-test` (held-out healthy subjects, for the false positives a threshold leaves)."""
    if request.healthy_split is None:
        return {}
    splits = {HEALTHY: healthy_source(request, scored, image_size, request.healthy_split)}
    held_out = scored.dataset.evaluation.healthy_test_split
    if request.healthy_split == "auto" and held_out is not None:
        splits[HEALTHY_TEST] = healthy_source(request, scored, image_size, held_out)
    return splits
