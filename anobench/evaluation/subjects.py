"""Per-subject results from the per-case counts a protocol's pass keeps (`RunMetrics.case_counts`):
a subject's slices pooled into its volume, the step from the THOR paper's pooled-slice view to the
field's per-volume one (Metrics Reloaded: one per-subject table first, then pooled, mean and median
views of it). A case without a subject is a subject of its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from anobench.evaluation.pixel_metrics import dice_curve
from anobench.evaluation.pixel_protocol import RunMetrics


def subject_table(metrics: RunMetrics) -> pd.DataFrame:
    """One row per subject of the scored cases: its cases, lesion pixels, and Dice at the run's pooled
    oracle threshold and (when calibrated) at the calibrated one, each from the subject's pooled counts."""
    counts = metrics.case_counts
    scored = np.isfinite(metrics.case_dice)
    subjects = [s if s is not None else case for s, case in zip(metrics.subject_ids, metrics.case_ids)]
    frame = pd.DataFrame({"subject": subjects, "cases": 1, **counts})[scored]
    table = frame.groupby("subject", sort=True).sum()
    table["dice"] = dice_curve(table["predicted"], table["true"], table["lesion"])
    if "calibrated predicted" in table:
        table["dice calibrated"] = dice_curve(table["calibrated predicted"], table["calibrated true"], table["lesion"])
    return table
