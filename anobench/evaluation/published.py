"""Numbers published by the THOR paper, kept as data and shown beside anobench's own as
"reported" rows, never mixed into them.

Source: C. I. Bercea, B. Wiestler, D. Rueckert, J. A. Schnabel, "Diffusion Models with Implicit
Guidance for Medical Anomaly Detection", MICCAI 2024. Table 1: ATLAS 2.0 stroke slices, pooled
max-Dice ×100, average over all lesions and per lesion-size bin, models trained on IXI. Table 2:
GRAZPEDWRI-DX wrist radiographs, Gaussian noise, per-class recall and F1 ×100 (thor-compat box
protocol).
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

CITATION = (
    "Bercea, Wiestler, Rueckert, Schnabel: Diffusion Models with Implicit Guidance for Medical "
    "Anomaly Detection, MICCAI 2024"
)
TABLE1_DATA = "real ATLAS"
TABLE2_DATA = "real GRAZPEDWRI-DX"


def table1() -> pd.DataFrame:
    """Columns noise (gaussian|simplex), method (the paper's name), dice_average/small/medium/large ×100."""
    with (
        resources.files("anobench.evaluation")
        .joinpath("paper_tables/thor_miccai2024_table1_atlas_dice.csv")
        .open() as handle
    ):
        return pd.read_csv(handle)


def table2() -> pd.DataFrame:
    """Columns method (the paper's name), class, recall, f1 ×100."""
    with (
        resources.files("anobench.evaluation")
        .joinpath("paper_tables/thor_miccai2024_table2_wrist_recall_f1.csv")
        .open() as handle
    ):
        return pd.read_csv(handle)
