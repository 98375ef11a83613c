"""`anobench data verify`: is the data a run scored still the data it scored?

The dataset is opened again exactly as the run opened it (name, options, data folder, image size)
and its manifest hash — sha256 over every file read, the split lists and the settings — is
compared with the one the run recorded.
"""

from __future__ import annotations

from pathlib import Path

from anobench import registry, runs
from anobench.api import DatasetContext
from anobench.errors import AnobenchError


def verify_run_data(folder: Path) -> str:
    """The run's data manifest hash, recomputed; an error if the data changed."""
    config = runs.read_json(folder / runs.CONFIG)
    recorded = runs.read_json(folder / runs.PROVENANCE).get("data_manifest", "")
    root = Path(config["data_root"]) if config.get("data_root") else None
    dataset = registry.datasets.get(config["dataset"]).open(
        config.get("dataset_options", {}), DatasetContext(config["image_size"], root)
    )
    current = dataset.manifest_hash()
    if current != recorded:
        raise AnobenchError(
            f"the {config['dataset']} data of run {folder} changed since it ran: manifest {current[:12]}… "
            f"now, {recorded[:12]}… recorded"
        )
    return current
