"""Box-level metrics for localisation data (wrist X-rays): the THOR paper's protocol and FROC.

`thor-compat` (the THOR paper's Table 2): one threshold τ per method, chosen on healthy test
images — of the candidates linspace(0, 1, 1000, endpoint=False), the one whose mean per-image
fraction of pixels with A > τ is the largest not above 5 %. Then per annotated box, with
Ā = A·1[A ≥ τ] (values kept), pos = Ā inside the box and neg = Ā in the image's negative region:
TP = 1[nnz(pos) > 0.1·nnz(box)], FP = min(10, ⌊Σneg / max(Σpos, 1)⌋), precision = TP / max(TP + FP, 1),
recall = TP, F1 = 2·P·TP / (P + TP + 1e-8); per class the means over its boxes.

`standard`: detections are the connected components (8-connected) of {A > τ}; a box is found at τ
when at least a tenth of some component lies inside it (so a component spreading over the whole
image finds nothing), and a component that finds no box is a false-positive region. Sweeping τ
gives the FROC curve (false-positive regions per image against box recall), summarised as the
recall at 0.5, 1, 2 and 4 false positives per image (the best recall at most that many).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import ndimage

from anobench.api import Box

THOR_CANDIDATES = np.linspace(0.0, 1.0, 1000, endpoint=False)
THOR_HEALTHY_FPR = 0.05
TP_AREA_FRACTION = 0.1
MAX_FALSE_POSITIVES = 10
FROC_FALSE_POSITIVES = (0.5, 1.0, 2.0, 4.0)
HIT_FRACTION = 0.1  # a detection finds a box when at least this share of it lies in the box
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class BoxScore:
    tp: int
    fp: int
    precision: float
    f1: float


def healthy_fpr_threshold(
    healthy_maps: np.ndarray, target: float = THOR_HEALTHY_FPR, candidates: np.ndarray = THOR_CANDIDATES
) -> tuple[float, float]:
    """(τ, its mean healthy FPR): the candidate with the largest mean FPR ≤ target.

    Every candidate's FPR comes from one sort per image (no loop over candidates). When even the
    largest candidate leaves more than `target` positive, it is returned with its FPR.
    """
    flat = np.sort(healthy_maps.reshape(len(healthy_maps), -1), axis=1)
    pixels = flat.shape[1]
    above = pixels - np.stack([np.searchsorted(row, candidates, side="right") for row in flat])
    mean_fpr = (above / pixels).mean(axis=0)
    allowed = np.nonzero(mean_fpr <= target)[0]
    index = allowed[np.argmax(mean_fpr[allowed])] if allowed.size else len(candidates) - 1
    return float(candidates[index]), float(mean_fpr[index])


def thor_compat_box(anomaly_map: np.ndarray, box_mask: np.ndarray, negative_mask: np.ndarray, tau: float) -> BoxScore:
    kept = np.where(anomaly_map >= tau, anomaly_map, 0.0)
    positive = kept[box_mask]
    negative = kept[negative_mask > 0.5]
    tp = int(np.count_nonzero(positive) > TP_AREA_FRACTION * np.count_nonzero(box_mask))
    fp = int(min(MAX_FALSE_POSITIVES, np.floor(negative.sum() / max(positive.sum(), 1.0))))
    precision = tp / max(tp + fp, 1)
    return BoxScore(tp, fp, precision, 2 * precision * tp / (precision + tp + 1e-8))


def froc_counts(
    maps: Sequence[np.ndarray], boxes: Sequence[Sequence[Box]], thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per image (rows) and threshold (columns): false-positive regions, and boxes found."""
    false_positives = np.zeros((len(maps), len(thresholds)))
    found = np.zeros((len(maps), len(thresholds)))
    for row, (anomaly_map, image_boxes) in enumerate(zip(maps, boxes)):
        box_masks = [box.mask(anomaly_map.shape) for box in image_boxes]
        for index, tau in enumerate(thresholds):
            components, count = ndimage.label(anomaly_map > tau, structure=EIGHT_CONNECTED)
            if count == 0:
                continue
            area = np.bincount(components.ravel(), minlength=count + 1)
            hits = [np.bincount(components[mask], minlength=count + 1) >= HIT_FRACTION * area for mask in box_masks]
            hits = [hit & (np.arange(count + 1) > 0) for hit in hits]
            any_hit = np.logical_or.reduce(hits) if hits else np.zeros(count + 1, bool)
            false_positives[row, index] = count - np.count_nonzero(any_hit)
            found[row, index] = sum(bool(hit.any()) for hit in hits)
    return false_positives, found


def froc(
    maps: Sequence[np.ndarray], boxes: Sequence[Sequence[Box]], thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """False-positive regions per image and box recall at each threshold (all images count)."""
    false_positives, found = froc_counts(maps, boxes, thresholds)
    total_boxes = sum(len(image_boxes) for image_boxes in boxes)
    return false_positives.sum(axis=0) / max(len(maps), 1), found.sum(axis=0) / max(total_boxes, 1)


def recall_at_false_positives(
    false_positives: np.ndarray, recall: np.ndarray, levels: Sequence[float] = FROC_FALSE_POSITIVES
) -> dict[float, float]:
    """The best recall reached with at most k false-positive regions per image, for each k."""
    return {k: float(recall[false_positives <= k].max(initial=0.0)) for k in levels}


def recall_at_false_positives_resampled(
    weights: np.ndarray, false_positives: np.ndarray, found: np.ndarray, boxes_per_image: np.ndarray,
    levels: Sequence[float] = FROC_FALSE_POSITIVES,
) -> dict[float, np.ndarray]:
    """`recall_at_false_positives` in each bootstrap resample of the images (weights R×N, counts N×T)."""
    per_image = (weights @ false_positives) / weights.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = (weights @ found) / (weights @ boxes_per_image)[:, None]
    return {k: np.where(per_image <= k, np.nan_to_num(recall), 0.0).max(axis=1) for k in levels}
