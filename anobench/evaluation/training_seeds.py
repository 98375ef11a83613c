"""Runs whose denoisers differ only in their training seed, merged into one row of a pixel board.

Published gaps between diffusion detectors are often within what retraining the same network with
another seed changes. Runs of one method on the same cases, asked for with the same method options,
whose checkpoints were trained alike (`anobench train … --seed N`: the recorded recipe equal but for
the seed and what a run of training measures of itself, its loss, device, threads, versions) become
one row: every estimate is the mean over the training seeds, and its interval a two-level
bootstrap, each resample drawing the training seeds with replacement and the cases as every row
draws them (`resampled`), so that it covers the spread of training as well as the cases'. The seed
draws are the same for every row (one generator, seeded), so a paired comparison of two merged rows
pairs runs of the same training seed in each resample: checkpoints shared by methods (THOR-G, DDPM
and AutoDDPM read one Gaussian denoiser) stay paired. Per-case scores (Wilcoxon's) are the seeds'
mean; the row's other cells (thresholds, the calibrated τ, costs) are the lowest seed's.
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import replace
from typing import Any

import numpy as np

from anobench.evaluation.bootstrap import SEED, interval
from anobench.evaluation.pixel_protocol import RunMetrics

# what a training run measures of itself rather than decides (and the modality, which its data
# manifest implies and older checkpoints do not record): not part of the recipe
NOT_RECIPE = ("seed", "final_loss", "device", "threads", "torch", "anobench", "processes", "modality")
SEED_DRAWS = SEED + 7  # the generator of the seed draws (any fixed value: the same for every row)


def training_seed(metrics: RunMetrics) -> int | None:
    seed = metrics.run.settings.get("checkpoint", {}).get("training", {}).get("seed")
    return None if seed is None else int(seed)


def recipe(m: RunMetrics) -> str:
    """What a run asked for (its method options) and how its checkpoint was made, without the
    checkpoint's identity and training seed (JSON, keys sorted). Settings a method resolves from its
    checkpoint (AutoDDPM's calibrated τ) differ between seeds and are left out with the rest."""
    checkpoint = copy.deepcopy(m.run.settings.get("checkpoint"))
    if isinstance(checkpoint, dict):
        checkpoint.pop("path", None)
        checkpoint.pop("sha256", None)
        for key in NOT_RECIPE:
            checkpoint.get("training", {}).pop(key, None)
    return json.dumps({"options": m.run.options, "checkpoint": checkpoint}, sort_keys=True, default=str)


def merge_training_seeds(metrics: list[Any]) -> list[Any]:
    """One row per method recipe: runs (pixel `RunMetrics`) that differ only in their checkpoint's
    training seed merged (in the place of the first of them); everything else as it was."""
    groups: dict[tuple[Any, ...], list[RunMetrics]] = {}
    for m in metrics:
        key = (m.run.method, recipe(m), m.case_ids, m.run.seed, training_seed(m) is None)
        groups.setdefault(key, []).append(m)
    merged: list[Any] = []
    for m in metrics:
        group = next(group for group in groups.values() if any(member is m for member in group))
        seeds = [training_seed(member) for member in group]
        if len(group) < 2 or None in seeds or len(set(seeds)) < len(group):  # repeats of one seed stay rows
            merged.append(m)
        elif m is group[0]:
            merged.append(_merged(sorted(group, key=training_seed)))  # type: ignore[arg-type]
    return merged


def _merged(group: list[RunMetrics]) -> RunMetrics:
    count = len(group)
    keys = [key for key in group[0].resampled if all(key in m.resampled for m in group)]
    resamples = len(group[0].resampled[keys[0]]) if keys else 0
    draws = np.random.default_rng(SEED_DRAWS).integers(count, size=(resamples, count))
    rows = np.arange(resamples)[:, None]
    intervals, resampled = dict(group[0].intervals), dict(group[0].resampled)
    for key in keys:
        stacked = np.stack([m.resampled[key] for m in group])  # seeds × resamples
        resampled[key] = stacked[draws, rows].mean(axis=1)
        intervals[key] = interval(float(np.mean([m.intervals[key].value for m in group])), resampled[key])
    calibrated = group[0].calibrated
    if calibrated is not None and "dice calibrated" in keys and all(m.calibrated is not None for m in group):
        calibrated = replace(
            calibrated,
            dice=intervals["dice calibrated"],
            samples=resampled["dice calibrated"],
            case_dice=_case_mean([m.calibrated.case_dice for m in group]),  # type: ignore[union-attr]
        )
    return replace(
        group[0],
        intervals=intervals,
        resampled=resampled,
        case_dice=_case_mean([m.case_dice for m in group]),
        calibrated=calibrated,
        training_seed_values=tuple(m.intervals["dice all"].value for m in group),
    )


def _case_mean(arrays: list[np.ndarray]) -> np.ndarray:
    """Per case, the mean over seeds (NaN where a case is not scored: the same cases in every run)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "mean of empty slice": the cases not scored
        return np.nanmean(np.stack(arrays), axis=0)
