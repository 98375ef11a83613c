"""The images a denoiser is trained on: one or more dataset splits, concatenated.

The THOR work trained its brain models on IXI's training scans together with the ATLAS slices
without a visible lesion: `anobench train --dataset ixi --dataset atlas:train-healthy`. A source is
`NAME` (its `train` split) or `NAME:SPLIT`. With several sources, dataset options and data folders
say which source they are for (`--set atlas.slice=95`, `--data-root ixi=DIR`); folders not given
come from `$ANOBENCH_DATA/<name>`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import torch

from anobench.api import load_cases, manifest_hash
from anobench.errors import AnobenchError
from anobench.hashing import sha256_json
from anobench.running.sources import PRIMARY, DataRoots, SplitSource, open_source, parse_source

SOURCE_SEPARATOR = "+"  # joins the sources in TrainConfig.dataset


def source_word(source: SplitSource) -> str:
    """How a training source is written: `NAME` for its train split, else `NAME:SPLIT`."""
    return source.dataset if source.split == "train" else str(source)


def parse_sources(spec: str) -> list[SplitSource]:
    sources = [parse_source(word) for word in spec.split(SOURCE_SEPARATOR)]
    if len(set(sources)) < len(sources):
        raise AnobenchError(f"a training source is named twice in {spec!r}")
    return sources


def join_sources(words: Sequence[str]) -> str:
    return SOURCE_SEPARATOR.join(source_word(source) for word in words for source in parse_sources(word))


def _for_source(source: SplitSource, several: bool, options: Mapping[str, str]) -> dict[str, str]:
    if not several:
        return dict(options)
    plain = [key for key in options if "." not in key]
    if plain:
        raise AnobenchError(f"with several training sources dataset options are NAME.key=value, got {plain[0]!r}")
    prefix = f"{source.dataset}."
    return {key.removeprefix(prefix): value for key, value in options.items() if key.startswith(prefix)}


def _root_for(source: SplitSource, data_roots: DataRoots, several: bool) -> Path | None:
    if isinstance(data_roots, Path) or PRIMARY in (data_roots or {}):
        if several:
            raise AnobenchError("with several training sources each --data-root is NAME=DIR")
        return data_roots if isinstance(data_roots, Path) else data_roots[PRIMARY]  # type: ignore[index]
    return (data_roots or {}).get(source.dataset)


def load_training_images(
    spec: str, image_size: int, options: Mapping[str, str], data_roots: DataRoots
) -> tuple[torch.Tensor, str, str | None]:
    """Every source's images (N×1×H×W), the manifest hash of what was read, and their modality
    (`Evaluation.modality`; sources of different modalities are refused).

    One source's manifest is its dataset's own; several are hashed together with their names.
    """
    sources = parse_sources(spec)
    several = len(sources) > 1
    named = set(data_roots) - {PRIMARY} if isinstance(data_roots, Mapping) else set()
    unknown = sorted(named - {s.dataset for s in sources})
    if unknown:
        raise AnobenchError(f"--data-root names {unknown[0]!r}, which is not a training source")
    images, manifests, modalities = [], [], {}
    for source in sources:
        dataset = open_source(
            source, _for_source(source, several, options), image_size, _root_for(source, data_roots, several)
        )
        modalities[source_word(source)] = dataset.evaluation.modality
        cases = load_cases(dataset, source.split)
        if not cases:
            raise AnobenchError(f"training source {source_word(source)} has no images")
        images += [torch.from_numpy(case.image) for case in cases]
        manifests.append({"source": source_word(source), "manifest": manifest_hash(dataset)})
    manifest = manifests[0]["manifest"] if not several else sha256_json(manifests)
    declared = {word: modality for word, modality in modalities.items() if modality is not None}
    if len(set(declared.values())) > 1:  # a source that declares none (a plugin's) joins any
        found = ", ".join(f"{word}: {modality}" for word, modality in declared.items())
        raise AnobenchError(f"training sources of different modalities ({found}); train on one modality")
    return torch.stack(images)[:, None], manifest, next(iter(declared.values()), None)
