import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from anobench.api import Box
from anobench.evaluation.box_metrics import HIT_FRACTION, thor_compat_box
from anobench.evaluation.froc import exact_froc, image_components, recall_at_false_positives


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


def labelled_counts(anomaly_map, boxes, thresholds):
    """The definition, one labelling per threshold: false-positive regions and found boxes of map ≥ v."""
    false_positives, found = [], []
    masks = [box.mask(anomaly_map.shape) for box in boxes]
    for tau in thresholds:
        components, count = ndimage.label(anomaly_map >= tau, structure=np.ones((3, 3), bool))
        area = np.bincount(components.ravel(), minlength=count + 1)
        hits = [(np.bincount(components[mask], minlength=count + 1) >= HIT_FRACTION * area)[1:] for mask in masks]
        any_hit = np.logical_or.reduce(hits) if hits else np.zeros(count, bool)
        false_positives.append(count - int(any_hit.sum()))
        found.append(sum(bool(hit.any()) for hit in hits))
    return np.array(false_positives), np.array(found)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_the_component_tree_counts_what_a_labelling_per_threshold_counts_at_every_value(seed):
    rng = np.random.default_rng(seed)
    anomaly = np.round(ndimage.gaussian_filter(rng.random((16, 16)), 1.5), int(rng.integers(1, 4)))
    boxes = []
    for _ in range(int(rng.integers(0, 3))):
        top, left = rng.integers(0, 12, 2)
        boxes.append(Box(int(top), int(left), int(top + rng.integers(2, 5)), int(left + rng.integers(2, 5)), "x"))
    every = np.unique(anomaly)[::-1]
    expected = labelled_counts(anomaly, boxes, every)
    got = image_components(anomaly, boxes).at(every)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_froc_counts_components_outside_boxes_and_boxes_touched():
    anomaly = np.zeros((20, 20))
    anomaly[2:5, 2:5] = 0.9  # inside the box
    anomaly[12:14, 12:14] = 0.4  # a weaker false positive
    boxes = [[Box(0, 0, 8, 8, "fracture")], []]
    result = exact_froc([anomaly, np.zeros((20, 20))], boxes)
    assert result.thresholds.tolist() == [0.9]  # 0.4 adds a false positive and no recall: not an operating point
    assert result.curve[0].tolist() == [0.0] and result.curve[1].tolist() == [1.0]
    assert result.distinct_thresholds == 3 and result.found.tolist() == [[1.0], [0.0]]
    assert recall_at_false_positives(*result.curve) == {0.5: 1.0, 1.0: 1.0, 2.0: 1.0, 4.0: 1.0}
    assert recall_at_false_positives(np.array([1.0, 3.0]), np.array([0.4, 0.9]), (0.5, 2.0, 4.0)) == {
        0.5: 0.0,
        2.0: 0.4,
        4.0: 0.9,
    }


def test_a_detection_spread_over_the_image_finds_nothing():
    anomaly = np.full((20, 20), 0.3)
    anomaly[2:5, 2:5] = 0.9
    boxes = [[Box(0, 0, 6, 6, "fracture")]]
    false_positives, found = image_components(anomaly, boxes[0]).at(np.array([0.3, 0.9]))
    assert false_positives.tolist() == [1, 0] and found.tolist() == [0, 1]
