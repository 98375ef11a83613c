"""Subjects' volumes rebuilt from a run's slices, and what the field measures on one volume.

`subject_volumes` reads a result set a chunk at a time and hands out each subject's volume (its
slices stacked in `slice_index` order) as soon as all its slices are read, so an evaluation holds
one subject's volume (and the slices of subjects a chunk boundary cuts) at a time. A subject's
slices must be consecutive in z: a gap (or a slice given twice) is one clear error, since 3-D
filters and components would join what is not adjacent.

The per-volume measures, each restricted to the brain mask: Dice of a thresholded map, the best
Dice over every threshold (exact), average precision, the false-positive rate a threshold leaves,
lesion-wise detection (3-D connected components, 26-connected), and the optional 3-D
post-processing of the Behrendt releases (median filter 5×5×5, removal of components whose filled
area is at most 7 voxels after thresholding).
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np
import pandas as pd
from scipy import ndimage
from skimage.measure import label, regionprops

from anobench.errors import AnobenchError
from anobench.evaluation.pixel_metrics import pooled_scores, rank_pixels
from anobench.store.results import StoredResults

Item = TypeVar("Item")
Result = TypeVar("Result")
WORKERS = min(4, os.cpu_count() or 1)  # subjects measured at once: scipy's filters and labelling let go of the GIL
MEDIAN_SIZE = 5  # the Behrendt releases' and UAD-IMAG's 3-D median filter
SMALLEST_COMPONENT = 8  # components of at most 7 voxels are removed after thresholding (the Behrendt releases)
FULL_CONNECTIVITY = np.ones((3, 3, 3), bool)  # 26-connected, as scikit-image's `label(connectivity=3)`
# (name, lower, upper) on a 3-D lesion's voxels with 128×128 slices: lower < n ≤ upper, both limits
# scaled by H·W/128² as the slice protocol's bins are. On MNI-space brains prepared at 128 px (a
# pixel ≈ 1.8 × 1.8 mm, slices 1 mm apart) the limits are about 2 mL and 12 mL.
LESION_SIZE_BINS = (("small", 0.0, 600.0), ("medium", 600.0, 3600.0), ("large", 3600.0, np.inf))


@dataclass(frozen=True)
class SubjectVolume:
    """One subject's slices stacked in z: maps, lesion masks (None for healthy splits), brain masks."""

    subject: str
    positions: np.ndarray  # board positions of its slices, in z order
    maps: np.ndarray  # Z × H × W
    lesion: np.ndarray | None
    brain: np.ndarray


def subjects_of(rows: pd.DataFrame, positions: np.ndarray) -> dict[str, np.ndarray]:
    """The board positions of each subject's slices, in z order; a subject whose slices leave a gap
    in z, or give one twice, is an error (slices without subject or position: an error naming them)."""
    chosen = rows.iloc[positions]
    if chosen["subject_id"].isna().any() or chosen["slice_index"].isna().any():
        missing = chosen["case_id"][chosen["subject_id"].isna() | chosen["slice_index"].isna()].iloc[0]
        raise AnobenchError(
            f"case {missing!r} gives no subject or slice position: the volume protocol needs data sets of volumes "
            "(their cases give subject_id, slice_index and brain_mask)"
        )
    subjects: dict[str, np.ndarray] = {}
    z = chosen["slice_index"].to_numpy(dtype=np.int64)
    for subject, members in chosen.groupby("subject_id", sort=False).indices.items():
        order = members[np.argsort(z[members], kind="stable")]
        depth = z[order]
        if len(depth) > 1 and not np.array_equal(np.diff(depth), np.ones(len(depth) - 1, np.int64)):
            raise AnobenchError(
                f"subject {subject!r}: its slices are at z = {', '.join(map(str, depth[:12]))}"
                f"{' …' if len(depth) > 12 else ''}, not consecutive; the volume protocol stacks whole slabs "
                "(score every slice of a z-range)"
            )
        subjects[str(subject)] = order
    return subjects


def subject_volumes(
    stored: StoredResults, positions: np.ndarray, subjects: dict[str, np.ndarray]
) -> Iterator[SubjectVolume]:
    """Each subject's volume, read a chunk at a time, handed out once all its slices are read
    (`positions`: the store rows of the board's cases; `subjects`: board positions per subject)."""
    if not stored.has("brain_masks"):
        raise AnobenchError(
            f"run {stored.folder} kept no brain masks: its data set does not give them (the volume protocol "
            "scores inside the brain)"
        )
    names = ["maps", "brain_masks", *(["masks"] if stored.has("masks") else [])]
    board_of_row = np.full(len(stored.rows), -1, np.int64)
    board_of_row[positions] = np.arange(len(positions))
    subject_of = {int(board): subject for subject, members in subjects.items() for board in members}
    waiting: dict[str, dict[int, dict[str, np.ndarray]]] = {}
    for rows, arrays in stored.iterate(names, np.sort(positions[np.concatenate(list(subjects.values()))])):
        for offset, board in enumerate(board_of_row[rows]):
            subject = subject_of[int(board)]
            slices = waiting.setdefault(subject, {})
            slices[int(board)] = {name: value[offset] for name, value in arrays.items()}
            if len(slices) == len(subjects[subject]):
                order = subjects[subject]
                stacked = {name: np.stack([slices[int(b)][name] for b in order]) for name in names}
                del waiting[subject]
                yield SubjectVolume(subject, order, stacked["maps"], stacked.get("masks"), stacked["brain_masks"])


def ordered_map(function: Callable[[Item], Result], items: Iterable[Item]) -> Iterator[Result]:
    """`function` over `items` in `WORKERS` threads, results in the items' order, at most `WORKERS`
    items in flight (so at most that many subjects' volumes are held)."""
    with ThreadPoolExecutor(WORKERS) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= WORKERS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def median_filtered(maps: np.ndarray) -> np.ndarray:
    """The 3-D median filter of the releases (5×5×5; the volume's edges mirrored, scipy's default)."""
    return ndimage.median_filter(maps, size=MEDIAN_SIZE)


def without_small_components(segmentation: np.ndarray) -> np.ndarray:
    """A thresholded volume without its 26-connected components whose filled area (scikit-image's
    `area_filled`, as the release measures it; at these sizes the same as their voxel count, since a
    hole in 3-D needs a shell of 26) is under `SMALLEST_COMPONENT` voxels."""
    labels = label(segmentation, connectivity=segmentation.ndim)
    small = [region.label for region in regionprops(labels) if region.area_filled < SMALLEST_COMPONENT]
    return segmentation & ~np.isin(labels, small) if small else segmentation


def dice(segmentation: np.ndarray, lesion: np.ndarray) -> float:
    """Dice of two volumes (NaN when both are empty: nothing to find, nothing found)."""
    together = float(segmentation.sum() + lesion.sum())
    return float(2 * np.logical_and(segmentation, lesion).sum() / together) if together else float("nan")


def best_dice_and_precision(maps: np.ndarray, lesion: np.ndarray, brain: np.ndarray) -> tuple[float, float]:
    """The best Dice over every threshold (map ≥ τ) and the average precision, inside the brain, exactly."""
    if not lesion[brain].any():
        return float("nan"), float("nan")
    scores = pooled_scores(rank_pixels(maps[brain][None], lesion[brain][None]), np.ones(1, bool))
    return float(scores.dice[0]), float(scores.average_precision[0])


def false_positive_rate(segmentation: np.ndarray, brain: np.ndarray) -> float:
    """Share of a healthy volume's brain voxels called anomalous."""
    return float(segmentation[brain].mean()) if brain.any() else float("nan")


@dataclass(frozen=True)
class LesionCounts:
    """Lesion-wise detection in one volume: its lesions (26-connected components of the ground truth),
    those found (a voxel of them called anomalous), the predicted components and those touching none;
    lesions and those found per `LESION_SIZE_BINS` bin too."""

    lesions: int
    found: int
    predicted: int
    false_positive: int
    lesions_by_size: tuple[int, ...]
    found_by_size: tuple[int, ...]


def lesion_size_bins(lesion: np.ndarray) -> tuple[tuple[str, float, float], ...]:
    """`LESION_SIZE_BINS` for the slices of a Z × H × W volume."""
    scale = lesion.shape[1] * lesion.shape[2] / 128**2
    return tuple((name, lower * scale, upper * scale) for name, lower, upper in LESION_SIZE_BINS)


def lesion_counts(segmentation: np.ndarray, lesion: np.ndarray) -> LesionCounts:
    truth, lesions = ndimage.label(lesion, structure=FULL_CONNECTIVITY)
    hit = np.zeros(lesions + 1, bool)
    hit[np.unique(truth[segmentation & lesion])] = True
    sizes = np.bincount(truth.ravel(), minlength=lesions + 1)[1:]
    bins = [(lower < sizes) & (sizes <= upper) for _, lower, upper in lesion_size_bins(lesion)]
    predicted_labels, predicted = ndimage.label(segmentation, structure=FULL_CONNECTIVITY)
    touching = len(np.unique(predicted_labels[segmentation & lesion]))
    return LesionCounts(
        lesions,
        int(hit[1:].sum()),
        predicted,
        predicted - touching,
        tuple(int(members.sum()) for members in bins),
        tuple(int((members & hit[1:]).sum()) for members in bins),
    )


def top_mean(maps: np.ndarray, brain: np.ndarray, share: float = 0.01) -> float:
    """A volume's (or slice's) anomaly score: the mean of its highest `share` of brain voxel values."""
    values = np.sort(maps[brain].ravel())
    if values.size == 0:
        return float("nan")
    count = max(1, int(np.ceil(share * values.size)))
    return float(values[-count:].mean())
