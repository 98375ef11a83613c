"""The box protocol over a stored run too large to hold in memory: the thor-compat scores and the
FROC of `box_protocol`, read a chunk of images at a time.

The thor-compat scores are per box (the threshold comes from the healthy split, exactly:
`calibration.streamed_threshold`), so they stream as they are. The exact FROC tries every distinct
map value of the run, which needs every pixel at once; here it is computed at `FROC_THRESHOLDS`
thresholds instead, the floors of fine bins at evenly spaced ranks of all map values (a first pass
gathers their histogram). A second pass counts each image's false-positive regions and found boxes
at those thresholds (`froc.image_components`, as the exact FROC does) and weights them by the
image's resamples at once, so the resampled curves are sums over chunks. The bootstrap then reads
the recall at k false positives at the pooled curve's operating points, as the exact one does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from anobench.api import Box
from anobench.evaluation.binned import FINE_BINS, bin_floor, coarse_cuts, fine_bins
from anobench.evaluation.bootstrap import Resampler
from anobench.evaluation.box_metrics import FROC_FALSE_POSITIVES, thor_compat_box
from anobench.evaluation.froc import image_components, operating_points, recall_at_false_positives
from anobench.store.results import StoredResults

FROC_THRESHOLDS = 4096  # thresholds the FROC of a run read in chunks is computed at


@dataclass(frozen=True)
class StreamedBoxes:
    table: pd.DataFrame  # one row per box: class, recall, precision, f1, image (board position)
    class_samples: dict[tuple[str, str], np.ndarray]  # (class, "recall" | "f1") → resampled means
    froc_curve: tuple[np.ndarray, np.ndarray]
    recall_at_fp: dict[float, tuple[float, np.ndarray]]  # k → (observed, resampled)
    thresholds: int


def stream_box_scores(
    stored: StoredResults,
    positions: np.ndarray,
    boxes_of: dict[int, list[Box]],
    tau: float,
    resampler: Resampler,
) -> StreamedBoxes:
    """`boxes_of`: the boxes of each board position (images without boxes count for the FROC too)."""
    board_of_row = np.full(len(stored.rows), -1, np.int64)
    board_of_row[positions] = np.arange(len(positions))
    rows = np.sort(positions)
    names = ["maps", *(["negative_regions"] if stored.has("negative_regions") else [])]
    shape = stored.arrays.case_shape
    histogram = np.zeros(FINE_BINS, np.int64)
    scored = []
    for chunk_rows, arrays in stored.iterate(names, rows):  # first pass: box scores, the values' histogram
        histogram += np.bincount(fine_bins(arrays["maps"]).ravel(), minlength=FINE_BINS)
        for offset, board in enumerate(board_of_row[chunk_rows]):
            image_boxes = boxes_of.get(int(board), [])
            if not image_boxes:
                continue
            if "negative_regions" in arrays:
                negative = arrays["negative_regions"][offset]
            else:
                negative = ~np.logical_or.reduce([box.mask(shape) for box in image_boxes])
            for box in image_boxes:
                score = thor_compat_box(arrays["maps"][offset], box.mask(shape), negative, tau)
                scored.append((box.label, score.tp, score.precision, score.f1, int(board)))
    table = pd.DataFrame(scored, columns=["class", "recall", "precision", "f1", "image"])
    thresholds = bin_floor(coarse_cuts(histogram, FROC_THRESHOLDS)).astype(np.float64)  # descending
    false_positives = np.zeros(len(thresholds))
    found = np.zeros(len(thresholds))
    drawn: dict[str, np.ndarray] = {}  # resampled sums: false positives and found boxes per threshold, boxes, images
    for chunk_rows, arrays in stored.iterate(["maps"], rows):  # second pass: the FROC counts, weighted
        boards = board_of_row[chunk_rows]
        counts = [image_components(m, boxes_of.get(int(b), [])).at(thresholds) for m, b in zip(arrays["maps"], boards)]
        fp = np.array([c[0] for c in counts], np.float64)
        hits = np.array([c[1] for c in counts], np.float64)
        weights = resampler.weights(boards).astype(np.float64)
        false_positives += fp.sum(axis=0)
        found += hits.sum(axis=0)
        boxes = np.array([len(boxes_of.get(int(b), [])) for b in boards], np.float64)
        sums = {"fp": weights @ fp, "found": weights @ hits, "boxes": weights @ boxes, "images": weights.sum(axis=1)}
        drawn = {key: drawn[key] + value if key in drawn else value for key, value in sums.items()}
    per_image = false_positives / max(len(positions), 1)
    recall = found / max(sum(len(b) for b in boxes_of.values()), 1)
    points = operating_points(per_image, recall)
    observed = recall_at_false_positives(per_image[points], recall[points])
    per_image_drawn = drawn["fp"][:, points] / drawn["images"][:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        recall_drawn = drawn["found"][:, points] / drawn["boxes"][:, None]
    recall_at_fp = {
        k: (observed[k], np.where(per_image_drawn <= k, np.nan_to_num(recall_drawn), 0.0).max(axis=1))
        for k in FROC_FALSE_POSITIVES
    }
    return StreamedBoxes(
        table, _class_samples(table, resampler), (per_image[points], recall[points]), recall_at_fp, len(thresholds)
    )


def _class_samples(table: pd.DataFrame, resampler: Resampler) -> dict[tuple[str, str], np.ndarray]:
    """Per class, the resampled mean recall and F1 of its boxes, the weights drawn a block at a time."""
    sums: dict[tuple[str, str], np.ndarray] = {}
    block = 4096
    for start in range(0, len(table), block):
        part = table.iloc[start : start + block]
        weights = resampler.weights(part["image"].to_numpy()).astype(np.float64)
        for name, members in part.groupby("class").indices.items():
            for column in ("recall", "f1", "drawn"):
                values = np.ones(len(members)) if column == "drawn" else part[column].to_numpy()[members]
                key = (name, column)
                sums[key] = sums.get(key, 0.0) + weights[:, members] @ values
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            (name, column): value / sums[(name, "drawn")] for (name, column), value in sums.items() if column != "drawn"
        }
