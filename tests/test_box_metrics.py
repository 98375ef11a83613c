import numpy as np
import pytest

from anobench.api import Box
from anobench.box_metrics import froc, healthy_fpr_threshold, recall_at_false_positives, thor_compat_box


def test_threshold_is_the_largest_mean_healthy_fpr_not_above_five_percent():
    values = np.linspace(0, 0.999, 1000)  # one image whose pixels are the candidates themselves
    maps = np.stack([values.reshape(10, 100), values.reshape(10, 100)[::-1]])
    tau, fpr = healthy_fpr_threshold(maps)
    assert fpr <= 0.05 and fpr == pytest.approx(0.05, abs=1e-3)
    assert tau == pytest.approx(0.949, abs=1e-3)  # 50 of 1000 pixels (0.950 … 0.999) lie above it


def test_threshold_when_no_candidate_reaches_the_target():
    tau, fpr = healthy_fpr_threshold(np.ones((2, 4, 4)))
    assert tau == pytest.approx(0.999) and fpr == 1.0


def test_a_box_is_found_when_more_than_a_tenth_of_it_is_kept():
    box = Box(0, 0, 10, 10, "fracture").mask((20, 20))
    negative = ~box
    anomaly = np.zeros((20, 20))
    anomaly[0:2, 0:5] = 0.8  # 10 of 100 box pixels: not more than a tenth
    assert thor_compat_box(anomaly, box, negative, 0.5).tp == 0
    anomaly[2, 0] = 0.8  # 11 pixels
    score = thor_compat_box(anomaly, box, negative, 0.5)
    assert (score.tp, score.fp, score.precision) == (1, 0, 1.0) and score.f1 == pytest.approx(1.0)


def test_false_positives_are_the_outside_mass_over_the_inside_mass_capped_at_ten():
    box = Box(0, 0, 10, 10, "metal").mask((20, 20))
    anomaly = np.zeros((20, 20))
    anomaly[0:4, 0:10] = 0.5  # Σpos = 20
    anomaly[10:20, 10:20] = 0.9  # Σneg = 90 → FP = ⌊90 / 20⌋ = 4
    score = thor_compat_box(anomaly, box, ~box, 0.5)
    assert (score.tp, score.fp) == (1, 4) and score.precision == pytest.approx(0.2)
    assert score.f1 == pytest.approx(2 * 0.2 / 1.2)
    anomaly[10:20, 0:10] = 0.9  # Σneg = 180 → 9
    anomaly[0:20, 15:20] = 0.95
    assert thor_compat_box(anomaly, box, ~box, 0.5).fp == 10


def test_below_threshold_values_are_dropped_but_kept_values_count_as_they_are():
    box = Box(0, 0, 4, 4, "metal").mask((8, 8))
    anomaly = np.zeros((8, 8))
    anomaly[0:4, 0:4] = 2.0  # Σpos = 32
    anomaly[4:8, 4:8] = 0.3  # below τ: not counted
    assert thor_compat_box(anomaly, box, ~box, 0.5).fp == 0


def test_froc_counts_components_outside_boxes_and_boxes_touched():
    anomaly = np.zeros((20, 20))
    anomaly[2:5, 2:5] = 0.9  # inside the box
    anomaly[12:14, 12:14] = 0.4  # a weaker false positive
    boxes = [[Box(0, 0, 8, 8, "fracture")], []]
    maps = [anomaly, np.zeros((20, 20))]
    false_positives, recall = froc(maps, boxes, np.array([0.2, 0.5, 0.95]))
    assert false_positives.tolist() == [0.5, 0.0, 0.0]  # one region over two images
    assert recall.tolist() == [1.0, 1.0, 0.0]
    assert recall_at_false_positives(false_positives, recall) == {0.5: 1.0, 1.0: 1.0, 2.0: 1.0, 4.0: 1.0}
    assert recall_at_false_positives(np.array([1.0, 3.0]), np.array([0.4, 0.9]), (0.5, 2.0, 4.0)) == {0.5: 0.0, 2.0: 0.4, 4.0: 0.9}


def test_a_detection_spread_over_the_image_finds_nothing():
    anomaly = np.full((20, 20), 0.3)
    anomaly[2:5, 2:5] = 0.9
    boxes = [[Box(0, 0, 6, 6, "fracture")]]
    false_positives, recall = froc([anomaly], boxes, np.array([0.1, 0.5]))
    assert false_positives.tolist() == [1.0, 0.0] and recall.tolist() == [0.0, 1.0]
