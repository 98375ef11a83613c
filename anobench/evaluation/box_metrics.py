"""Box-level metrics for localisation data (wrist X-rays): the THOR paper's protocol and FROC.

`thor-compat` (the THOR paper's Table 2): one threshold τ per method, chosen on healthy test
images (`calibration.calibrated_threshold` over `THOR_CANDIDATES` = linspace(0, 1, 1000,
endpoint=False): the one whose mean per-image fraction of pixels with A > τ is the largest not
above 5 %). Then per annotated box, with
Ā = A·1[A ≥ τ] (values kept), pos = Ā inside the box and neg = Ā in the image's negative region:
TP = 1[nnz(pos) > 0.1·nnz(box)], FP = min(10, ⌊Σneg / max(Σpos, 1)⌋), precision = TP / max(TP + FP, 1),
recall = TP, F1 = 2·P·TP / (P + TP + 1e-8); per class the means over its boxes.

`standard`: detections are the connected components (8-connected) of {A ≥ τ}; a box is found at τ
when at least a tenth of some component lies inside it (so a component spreading over the whole
image finds nothing), and a component that finds no box is a false-positive region. Sweeping τ over
every distinct map value (`anobench.evaluation.froc`) gives the FROC curve (false-positive regions per image
against box recall), summarised as the recall at 0.5, 1, 2 and 4 false positives per image (the
best recall at most that many).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

THOR_CANDIDATES = np.linspace(0.0, 1.0, 1000, endpoint=False)
TP_AREA_FRACTION = 0.1
MAX_FALSE_POSITIVES = 10
FROC_FALSE_POSITIVES = (0.5, 1.0, 2.0, 4.0)
HIT_FRACTION = 0.1  # a detection finds a box when at least this share of it lies in the box


@dataclass(frozen=True)
class BoxScore:
    tp: int
    fp: int
    precision: float
    f1: float


def thor_compat_box(anomaly_map: np.ndarray, box_mask: np.ndarray, negative_mask: np.ndarray, tau: float) -> BoxScore:
    kept = np.where(anomaly_map >= tau, anomaly_map, 0.0)
    positive = kept[box_mask]
    negative = kept[negative_mask > 0.5]
    tp = int(np.count_nonzero(positive) > TP_AREA_FRACTION * np.count_nonzero(box_mask))
    fp = int(min(MAX_FALSE_POSITIVES, np.floor(negative.sum() / max(positive.sum(), 1.0))))
    precision = tp / max(tp + fp, 1)
    return BoxScore(tp, fp, precision, 2 * precision * tp / (precision + tp + 1e-8))
