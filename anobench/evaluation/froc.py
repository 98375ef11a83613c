"""FROC at its exact operating points: every distinct map value as threshold.

Detections at threshold v are the 8-connected components of {map ≥ v}; a box is found when at least
a tenth of some component lies inside it, and a component that finds no box is a false-positive
region (`box_metrics.HIT_FRACTION`). As v falls, components only grow and merge, so all of them,
over all thresholds, are the nodes of one component tree (scikit-image's max-tree): a node is the
component while v lies in (level of its parent, its own level], and its area and its pixels inside
each box are sums over its subtree. Counting the nodes alive at v gives each image's false
positives and found boxes at every threshold at once, with no labelling pass per threshold.

The pooled curve (false-positive regions per image, box recall) is computed at every distinct value
of the test maps; its operating points — the thresholds where no other one has fewer false positives
and at least the recall — are where R@kFP is attained, and the bootstrap resamples the images at
exactly those thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numba import njit
from skimage.morphology import max_tree

from anobench.api import Box
from anobench.evaluation.box_metrics import FROC_FALSE_POSITIVES, HIT_FRACTION


@njit(cache=True)
def _subtree_sums(parent: np.ndarray, order: np.ndarray, counts: np.ndarray) -> None:
    """Add every node's counts (columns: area, pixels in box 1, …) into its parent, children first."""
    for position in range(len(order) - 1, 0, -1):
        pixel = order[position]
        counts[parent[pixel]] += counts[pixel]


@dataclass(frozen=True)
class ImageComponents:
    """One image's detections over all thresholds, as intervals (bottom, top] of the threshold."""

    false_positive: tuple[np.ndarray, np.ndarray]  # (bottoms, tops) of the components that find no box
    hits: tuple[tuple[np.ndarray, np.ndarray], ...]  # per box: (bottoms, tops) of the components finding it

    def at(self, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """False-positive regions and found boxes at each threshold (map ≥ threshold)."""
        found = np.zeros(len(thresholds), np.int64)
        for hit in self.hits:
            found += _alive(*hit, thresholds) > 0
        return _alive(*self.false_positive, thresholds), found


def _alive(bottoms: np.ndarray, tops: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many intervals (bottom, top] contain each threshold: #(top ≥ v) − #(bottom ≥ v)."""
    tops, bottoms = np.sort(tops), np.sort(bottoms)
    above = len(tops) - np.searchsorted(tops, thresholds, side="left")
    below = len(bottoms) - np.searchsorted(bottoms, thresholds, side="left")
    return above - below


def image_components(anomaly_map: np.ndarray, boxes: Sequence[Box]) -> ImageComponents:
    values = np.asarray(anomaly_map, dtype=np.float64)
    parent, order = max_tree(values, connectivity=2)
    parent, flat = parent.ravel(), values.ravel()
    counts = np.zeros((flat.size, 1 + len(boxes)), np.float64)
    counts[:, 0] = 1.0
    for column, box in enumerate(boxes, start=1):
        counts[:, column] = box.mask(values.shape).ravel()
    _subtree_sums(parent, order, counts)
    pixels = np.arange(flat.size)
    root = parent == pixels
    node = root | (flat[parent] != flat)  # one pixel stands for each component (its flat zone's canonical)
    tops = flat[node]
    bottoms = np.where(root[node], -np.inf, flat[parent[node]])
    hit = counts[node, 1:] >= HIT_FRACTION * counts[node, :1]
    missing = ~hit.any(axis=1)
    return ImageComponents(
        (bottoms[missing], tops[missing]),
        tuple((bottoms[hit[:, b]], tops[hit[:, b]]) for b in range(len(boxes))),
    )


@dataclass(frozen=True)
class ExactFroc:
    """The pooled FROC and its operating points, with each image's counts at them for the bootstrap."""

    thresholds: np.ndarray  # the operating points (descending), map ≥ threshold
    false_positives: np.ndarray  # N×K false-positive regions of each image at each operating point
    found: np.ndarray  # N×K boxes found
    curve: tuple[np.ndarray, np.ndarray]  # false-positive regions per image and recall along the operating points
    distinct_thresholds: int  # how many thresholds the curve was computed at


def exact_froc(maps: Sequence[np.ndarray], boxes: Sequence[Sequence[Box]]) -> ExactFroc:
    images = [image_components(m, b) for m, b in zip(maps, boxes)]
    every = np.unique(np.concatenate([np.asarray(m, np.float64).ravel() for m in maps]))[::-1]
    false_positives = np.zeros(len(every), np.int64)
    found = np.zeros(len(every), np.int64)
    for image in images:  # pooled counts at every distinct value
        image_fp, image_found = image.at(every)
        false_positives += image_fp
        found += image_found
    per_image = false_positives / max(len(maps), 1)
    recall = found / max(sum(len(b) for b in boxes), 1)
    points = operating_points(per_image, recall)
    thresholds = every[points]
    counts = [image.at(thresholds) for image in images]
    return ExactFroc(
        thresholds,
        np.array([c[0] for c in counts], dtype=np.float64).reshape(len(images), len(thresholds)),
        np.array([c[1] for c in counts], dtype=np.float64).reshape(len(images), len(thresholds)),
        (per_image[points], recall[points]),
        len(every),
    )


def operating_points(false_positives: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """Indices of the thresholds no other beats: fewer false positives with at least the recall."""
    order = np.lexsort((-recall, false_positives))  # by false positives, then by recall descending
    best = np.maximum.accumulate(recall[order])
    improves = np.r_[True, best[1:] > best[:-1]] & (recall[order] == best)
    return np.sort(order[improves])


def recall_at_false_positives(
    false_positives: np.ndarray, recall: np.ndarray, levels: Sequence[float] = FROC_FALSE_POSITIVES
) -> dict[float, float]:
    """The best recall reached with at most k false-positive regions per image, for each k."""
    return {k: float(recall[false_positives <= k].max(initial=0.0)) for k in levels}


def recall_at_false_positives_resampled(
    weights: np.ndarray,
    false_positives: np.ndarray,
    found: np.ndarray,
    boxes_per_image: np.ndarray,
    levels: Sequence[float] = FROC_FALSE_POSITIVES,
) -> dict[float, np.ndarray]:
    """`recall_at_false_positives` in each bootstrap resample of the images (weights R×N, counts N×T)."""
    per_image = (weights @ false_positives) / weights.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = (weights @ found) / (weights @ boxes_per_image)[:, None]
    return {k: np.where(per_image <= k, np.nan_to_num(recall), 0.0).max(axis=1) for k in levels}
