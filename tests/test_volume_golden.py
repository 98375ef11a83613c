"""The volume protocol's measures against the released evaluation code of pDDPM (Behrendt et al.) and
UAD-IMAG (Frotscher et al.), run once on fixed volumes by bench/golden/volume_protocol.py
(tests/golden/volume-protocol.json says which commit, which functions, how); lesion-wise counts and
detection against Metrics Reloaded (bench/golden/lesion_detection.py) and MONAI."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.metrics import compute_average_precision, compute_roc_auc

from anobench.evaluation.calibration import calibrated_threshold
from anobench.evaluation.detection import detection_scores
from anobench.evaluation.pixel_metrics import pooled_scores, rank_pixels
from anobench.evaluation.volumes import (
    best_dice_and_precision,
    dice,
    lesion_counts,
    median_filtered,
    without_small_components,
)

GOLDEN = np.load(Path(__file__).parent / "golden" / "volume-protocol.npz")
MAPS, LESION, BRAIN = GOLDEN["maps"], GOLDEN["lesion"], GOLDEN["brain"]


def test_the_3d_median_filter_is_the_releases():
    for subject in range(2):
        assert np.array_equal(median_filtered(MAPS[subject]), GOLDEN["uad_median"][subject])
    assert np.array_equal(median_filtered(MAPS[0]), GOLDEN["behrendt_median"])


def test_small_components_go_as_in_the_pddpm_release():
    segmentation = GOLDEN["behrendt_segmentation"]  # the raw map of subject 0 above 0.2
    kept = without_small_components(segmentation)
    assert np.array_equal(kept, GOLDEN["behrendt_components"]) and kept.sum() < segmentation.sum()


def test_per_subject_dice_is_the_releases():
    for subject in range(2):
        assert dice(MAPS[subject] > 0.2, LESION[subject]) == pytest.approx(GOLDEN["uad_dice_0.2"][subject], abs=1e-12)
        filtered = median_filtered(MAPS[subject]) > 0.2
        assert dice(filtered, LESION[subject]) == pytest.approx(GOLDEN["uad_dice_median_0.2"][subject], abs=1e-12)
    assert dice(GOLDEN["behrendt_components"], LESION[0]) == pytest.approx(float(GOLDEN["behrendt_dice"]), abs=1e-12)


def test_average_precision_is_the_releases_over_the_same_voxels():
    everywhere = np.ones(MAPS.shape[1:], bool)
    pooled = pooled_scores(rank_pixels(MAPS.reshape(2, -1), LESION.reshape(2, -1)), np.ones(2, bool))
    assert pooled.average_precision[0] == pytest.approx(float(GOLDEN["uad_auprc"]), abs=1e-12)
    _, ap = best_dice_and_precision(GOLDEN["behrendt_median"], LESION[0], everywhere)
    assert ap == pytest.approx(float(GOLDEN["behrendt_auprc"]), abs=1e-12)


@pytest.mark.parametrize("name", ["healthy", "healthy_quantised"])
@pytest.mark.parametrize("target", [0.01, 0.05])
def test_the_fpr_threshold_leaves_the_share_it_promises_where_the_releases_rule_may_not(name, target):
    values = GOLDEN[name][np.broadcast_to(BRAIN[:1], GOLDEN[name].shape)]
    tau, share = calibrated_threshold(values[None], target)
    assert (
        share == pytest.approx((values > tau).mean())
        and target - 1 / values.size < share <= target
        or (name == "healthy_quantised" and share <= target)
    )
    released = float(GOLDEN[f"uad_threshold_{name}_{target:g}"])
    released_share = float(GOLDEN[f"uad_fpr_{name}_{target:g}"])
    assert released_share == pytest.approx((values > released).mean(), abs=1e-5)  # what UAD-IMAG's rule leaves
    assert tau <= released and share >= released_share  # never further from the target, from below
    if name == "healthy":  # continuous maps: scikit-learn drops every collinear ROC point, the rule finds none
        assert released == values.max() and released_share == 0.0


LESIONS = np.load(Path(__file__).parent / "golden" / "lesion-detection.npz")
LESION_RECORD = json.loads((Path(__file__).parent / "golden" / "lesion-detection.json").read_text())


@pytest.mark.parametrize("subject", range(6))
def test_lesion_wise_counts_are_metrics_reloadeds_but_where_one_prediction_spans_two_lesions(subject):
    """Metrics Reloaded matches one prediction to one lesion; anobench calls every lesion a prediction
    touches found (subject 5: one prediction spans two lesions, the only difference)."""
    counts = lesion_counts(LESIONS["segmentation"][subject], LESIONS["lesion"][subject])
    theirs = LESION_RECORD["lesion_wise"]["subjects"][subject]
    bridged = 1 if subject == 5 else 0
    assert (counts.lesions, counts.predicted, counts.false_positive) == (
        theirs["lesions"],
        theirs["predicted"],
        theirs["false_positive"],
    )
    assert counts.found == theirs["true_positive"] + bridged
    assert counts.lesions - counts.found == theirs["false_negative"] - bridged


def test_detection_auroc_is_metrics_reloadeds_and_monais_and_ap_is_monais():
    """AUROC: Metrics Reloaded's and MONAI's; AP: MONAI's step-wise one (Metrics Reloaded integrates
    the precision-recall curve by trapezoids, which is higher on these tied scores: recorded apart)."""
    scores, labels = LESIONS["scores"], LESIONS["labels"]
    found = detection_scores(scores[labels == 1], scores[labels == 0], resamples=10)
    assert found["auroc"].value == pytest.approx(LESION_RECORD["detection"]["auroc"], abs=1e-12)
    as_tensors = (torch.tensor(scores), torch.tensor(labels))
    assert found["auroc"].value == pytest.approx(float(compute_roc_auc(*as_tensors)), abs=1e-12)
    assert found["ap"].value == pytest.approx(float(compute_average_precision(*as_tensors)), abs=1e-12)
    assert found["ap"].value < LESION_RECORD["detection"]["average_precision_trapezoidal"] - 0.02
