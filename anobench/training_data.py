"""The images a denoiser is trained on: one or more dataset splits, concatenated.

The THOR work trained its brain models on IXI's training scans together with the ATLAS slices
without a visible lesion: `anobench train --dataset ixi --dataset atlas:train-healthy`. A source is
`NAME` (its `train` split) or `NAME:SPLIT`. With several sources, dataset options and data folders
say which source they are for (`--set atlas.slice=95`, `--data-root ixi=DIR`); folders not given
come from `$ANOBENCH_DATA/<name>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import torch

from anobench import registry
from anobench.api import DatasetContext
from anobench.errors import AnobenchError
from anobench.hashing import sha256_json

SOURCE_SEPARATOR = "+"  # joins the sources in TrainConfig.dataset
DataRoots = Path | Mapping[str, Path] | None  # one folder (one source) or a folder per dataset name


@dataclass(frozen=True)
class TrainingSource:
    dataset: str
    split: str = "train"

    def __str__(self) -> str:
        return self.dataset if self.split == "train" else f"{self.dataset}:{self.split}"


def parse_sources(spec: str) -> list[TrainingSource]:
    sources = []
    for word in spec.split(SOURCE_SEPARATOR):
        name, _, split = word.partition(":")
        if not name:
            raise AnobenchError(f"training source {word!r} is not NAME or NAME:SPLIT")
        sources.append(TrainingSource(name, split or "train"))
    if len({(s.dataset, s.split) for s in sources}) < len(sources):
        raise AnobenchError(f"a training source is named twice in {spec!r}")
    return sources


def join_sources(words: Sequence[str]) -> str:
    return SOURCE_SEPARATOR.join(str(source) for word in words for source in parse_sources(word))


def parse_data_roots(values: Sequence[str] | None) -> DataRoots:
    """`--data-root` values: one plain folder, or NAME=DIR entries."""
    if not values:
        return None
    if len(values) == 1 and "=" not in values[0]:
        return Path(values[0])
    roots = {}
    for value in values:
        name, sep, folder = value.partition("=")
        if not sep:
            raise AnobenchError(f"with several --data-root values each is NAME=DIR, got {value!r}")
        roots[name] = Path(folder)
    return roots


def data_root_words(data_roots: DataRoots) -> list[str]:
    if data_roots is None:
        return []
    if isinstance(data_roots, Path):
        return ["--data-root", str(data_roots)]
    return [word for name, folder in sorted(data_roots.items()) for word in ("--data-root", f"{name}={folder}")]


def _for_source(source: TrainingSource, several: bool, options: Mapping[str, str]) -> dict[str, str]:
    if not several:
        return dict(options)
    plain = [key for key in options if "." not in key]
    if plain:
        raise AnobenchError(f"with several training sources dataset options are NAME.key=value, got {plain[0]!r}")
    prefix = f"{source.dataset}."
    return {key.removeprefix(prefix): value for key, value in options.items() if key.startswith(prefix)}


def _root_for(source: TrainingSource, data_roots: DataRoots, several: bool) -> Path | None:
    if isinstance(data_roots, Path):
        if several:
            raise AnobenchError("with several training sources each --data-root is NAME=DIR")
        return data_roots
    return (data_roots or {}).get(source.dataset)


def load_training_images(
    spec: str, image_size: int, options: Mapping[str, str], data_roots: DataRoots
) -> tuple[torch.Tensor, str]:
    """Every source's images (N×1×H×W) and the manifest hash of what was read.

    One source's manifest is its dataset's own; several are hashed together with their names.
    """
    sources = parse_sources(spec)
    several = len(sources) > 1
    unknown = sorted(set(data_roots) - {s.dataset for s in sources}) if isinstance(data_roots, Mapping) else []
    if unknown:
        raise AnobenchError(f"--data-root names {unknown[0]!r}, which is not a training source")
    images, manifests = [], []
    for source in sources:
        context = DatasetContext(image_size, _root_for(source, data_roots, several))
        dataset = registry.datasets.get(source.dataset).open(_for_source(source, several, options), context)
        if source.split not in dataset.splits:
            raise AnobenchError(
                f"dataset {source.dataset!r} has no split {source.split!r}; available: {', '.join(dataset.splits)}"
            )
        cases = dataset.cases(source.split)
        if not cases:
            raise AnobenchError(f"training source {source} has no images")
        images += [torch.from_numpy(case.image) for case in cases]
        manifests.append({"source": str(source), "manifest": dataset.manifest_hash()})
    manifest = manifests[0]["manifest"] if not several else sha256_json(manifests)
    return torch.stack(images)[:, None], manifest
