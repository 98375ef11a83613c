"""The volume protocol on hand-made volumes and fabricated runs: each measure against its definition,
bad input named, rank stability on known rankings."""

import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import case_rows
from scipy import ndimage
from sklearn.metrics import average_precision_score

from anobench.errors import AnobenchError
from anobench.evaluation.boards import compare
from anobench.evaluation.calibration import calibrated_threshold
from anobench.evaluation.ranking import rank_stability
from anobench.evaluation.volume_protocol import FPR_TARGETS, evaluate_volume_run
from anobench.evaluation.volumes import (
    best_dice_and_precision,
    dice,
    false_positive_rate,
    lesion_counts,
    median_filtered,
    subjects_of,
    top_mean,
    without_small_components,
)
from anobench.store import folder as store
from anobench.store.results import CaseResults, read_results, write_results


def test_small_components_go_and_lesions_are_counted_in_3d():
    volume = np.zeros((5, 10, 10), bool)
    volume[1:3, 1:4, 1:4] = True  # 18 voxels: kept
    volume[4, 8, 8] = True  # one voxel: removed
    volume[2, 6, 6:9] = True  # 3 voxels: removed
    kept = without_small_components(volume)
    assert kept.sum() == 18 and not kept[4, 8, 8] and not kept[2, 6, 7]
    diagonal = np.zeros((5, 5, 5), bool)
    diagonal[0, 0, 0] = diagonal[1, 1, 1] = True  # touching by a corner: one 26-connected lesion
    lesion = diagonal.copy()
    lesion[4, 4, 4] = True  # a second lesion, apart
    counts = lesion_counts(diagonal, lesion)
    assert (counts.lesions, counts.found, counts.predicted, counts.false_positive) == (2, 1, 1, 0)


@pytest.mark.parametrize("side", [128, 64])
def test_lesions_are_binned_by_their_3d_size_scaled_with_the_slices(side):
    scale = side**2 / 128**2
    lesion = np.zeros((40, side, side), bool)
    for z, voxels in ((0, 500), (14, 1000), (28, 5000)):  # small, medium, large at 128 × 128
        count = int(voxels * scale)
        lesion[z : z + 10].reshape(10, -1)[:, : count // 10] = True  # 10 slices of a block of rows
    segmentation = np.zeros_like(lesion)
    segmentation[16] = lesion[16]  # only the medium lesion is touched
    counts = lesion_counts(segmentation, lesion)
    assert counts.lesions_by_size == (1, 1, 1) and counts.found_by_size == (0, 1, 0)


def test_per_volume_measures_follow_their_definitions():
    rng = np.random.default_rng(0)
    maps = rng.random((4, 12, 12))
    brain = np.zeros(maps.shape, bool)
    brain[:, 2:10, 2:10] = True
    lesion = np.zeros(maps.shape, bool)
    lesion[1:3, 4:7, 4:7] = True
    maps[lesion] += 0.5
    best, ap = best_dice_and_precision(maps, lesion, brain)
    candidates = np.unique(maps[brain])
    brute = max(dice((maps >= t) & brain, lesion) for t in candidates)
    assert best == pytest.approx(brute, abs=1e-6)
    assert ap == pytest.approx(average_precision_score(lesion[brain], maps[brain]))
    assert dice(np.zeros(3, bool), np.zeros(3, bool)) != dice(np.zeros(3, bool), np.zeros(3, bool))  # NaN
    assert false_positive_rate(maps > 0.9, brain) == pytest.approx(((maps > 0.9) & brain).sum() / brain.sum())
    assert top_mean(maps, brain, 0.5) == pytest.approx(np.sort(maps[brain])[-128:].mean())
    assert np.array_equal(median_filtered(maps), ndimage.median_filter(maps, size=5))


def test_slices_of_a_subject_must_be_consecutive_in_z():
    rows = case_rows(5, subject_id=["a", "a", "a", "b", "b"], slice_index=[0, 1, 2, 4, 6])
    with pytest.raises(AnobenchError, match=r"subject 'b': its slices are at z = 4, 6, not consecutive"):
        subjects_of(rows, np.arange(5))
    assert {k: v.tolist() for k, v in subjects_of(rows, np.arange(3)).items()} == {"a": [0, 1, 2]}
    with pytest.raises(AnobenchError, match="gives no subject or slice position"):
        subjects_of(case_rows(2), np.arange(2))


def fabricate_volume_run(folder, quality=1.0, subjects=4, depth=6, side=16, seed=0, volumes=True):
    """A finished run of `subjects` test volumes (a cube lesion each, its map `quality` brighter), two
    healthy validation and two held-out healthy subjects; maps are noise elsewhere."""
    rng = np.random.default_rng(seed)
    brain = np.zeros((side, side), bool)
    brain[2:-2, 2:-2] = True

    def split(count, lesions, first):
        maps = rng.random((count * depth, side, side)).astype(np.float32) * 0.5
        masks = np.zeros(maps.shape, bool)
        if lesions:
            for s in range(count):
                z = s * depth + 1 + s % 2
                masks[z : z + 3, 5:9, 5:9] = True
            maps += masks * np.float32(quality) * rng.uniform(0.2, 0.6, size=(len(maps), 1, 1)).astype(np.float32)
        rows = case_rows(
            count * depth,
            case_id=[f"{first}{i // depth}_z{i % depth}" for i in range(count * depth)],
            subject_id=[f"{first}{i // depth}" for i in range(count * depth)],
            slice_index=[i % depth for i in range(count * depth)],
            lesion_pixels=masks.sum(axis=(1, 2)),
            score=maps.mean(axis=(1, 2)),
        )
        brains = np.broadcast_to(brain, maps.shape).copy()
        return CaseResults(rows, maps, masks if lesions else None, None, brain_masks=brains)

    write_results(folder, split(subjects, True, "t"), chunk_cases=5)
    write_results(folder / store.HEALTHY, split(2, False, "v"), chunk_cases=5)
    write_results(folder / store.HEALTHY_TEST, split(2, False, "h"), chunk_cases=5)
    store.write_json(
        folder / store.CONFIG,
        {"method": f"m{quality}", "dataset": "vols", "split": "test", "evaluation": {"volumes": volumes}},
    )
    store.write_json(folder / store.PROVENANCE, {"data_manifest": "m", "device": "cpu"})
    store.seal(folder)


def test_a_run_of_volumes_scores_each_subject_inside_the_brain(tmp_path):
    fabricate_volume_run(tmp_path)
    metrics = evaluate_volume_run(tmp_path, resamples=200)
    assert metrics.subject_ids == ("t0", "t1", "t2", "t3")
    raw = metrics.variants["raw"]
    healthy = read_results(tmp_path / store.HEALTHY)
    brain_voxels = healthy.maps[healthy.brain_masks]
    for target in FPR_TARGETS:  # the exact rule, on the healthy validation subjects' brain voxels only
        assert raw.thresholds[target] == calibrated_threshold(brain_voxels[None], target)
    assert raw.dice[0.01].value > 0.5 and raw.lesion_wise[0.01]["sensitivity"] == 1.0
    assert len(raw.subjects) == 4 and (raw.subjects["lesion voxels"] == 48).all()
    assert raw.subject_detection["auroc"].value == pytest.approx(1.0)  # a lesion lifts the top 1 %
    post = metrics.variants["post-processed"]
    assert post.lesion_wise[0.01]["false positives per subject"] <= raw.lesion_wise[0.01]["false positives per subject"]
    assert metrics.intervals["dice 0.01"] == raw.dice[0.01]


def test_volume_board_ranks_runs_and_names_what_is_missing(tmp_path):
    fabricate_volume_run(tmp_path / "good", quality=1.0)
    fabricate_volume_run(tmp_path / "weak", quality=0.3, seed=1)
    path, metrics = compare([str(tmp_path / "good"), str(tmp_path / "weak")], "v", tmp_path / "boards", layout="volume")
    text = path.read_text()
    assert "## With the releases' 3-D post-processing" in text and "## Paired comparisons" in text
    assert "Kendall's τ" in text and "P(rank 1)" in text
    fabricate_volume_run(tmp_path / "slices", volumes=False)
    with pytest.raises(AnobenchError, match="does not declare volumes"):
        evaluate_volume_run(tmp_path / "slices")
    fabricate_volume_run(tmp_path / "no-held-out")
    shutil.rmtree(tmp_path / "no-held-out" / store.HEALTHY_TEST)
    store.seal(tmp_path / "no-held-out")
    with pytest.raises(AnobenchError, match="healthy-test split.*--healthy-split auto"):
        evaluate_volume_run(tmp_path / "no-held-out")
    fabricate_volume_run(tmp_path / "maskless-healthy")
    healthy = read_results(tmp_path / "maskless-healthy" / store.HEALTHY)
    healthy.brain_masks = None
    write_results(tmp_path / "maskless-healthy" / store.HEALTHY, healthy, chunk_cases=5)
    store.seal(tmp_path / "maskless-healthy")
    with pytest.raises(AnobenchError, match=r"healthy kept no brain masks: its data set does not give them"):
        evaluate_volume_run(tmp_path / "maskless-healthy")


def test_rank_stability_reads_the_resampled_rankings():
    values = np.array([0.9, 0.5, 0.1])
    firm = rank_stability(values, np.array([[0.9] * 50, [0.5] * 50, [0.1] * 50]))
    assert firm.first.tolist() == [1.0, 0.0, 0.0] and firm.kendall_tau == pytest.approx(1.0)
    assert firm.mean_rank.tolist() == [1.0, 2.0, 3.0] and firm.frequencies[1].tolist() == [0.0, 1.0, 0.0]
    swapped = np.array([[0.9] * 25 + [0.4] * 25, [0.5] * 50, [0.1] * 50])
    loose = rank_stability(values, swapped)
    assert loose.first.tolist() == [0.5, 0.5, 0.0] and loose.mean_rank[0] == pytest.approx(1.5)
    assert 0 < loose.kendall_tau < 1
    pd.testing.assert_series_equal(pd.Series(loose.reported), pd.Series([1.0, 2.0, 3.0]))


def test_subjects_without_a_lesion_or_a_brain_are_left_out_where_nothing_can_be_measured(tmp_path):
    fabricate_volume_run(tmp_path, subjects=3)
    test = read_results(tmp_path)
    test.masks[12:18] = False  # subject t2: no lesion
    test.brain_masks[6:12] = False  # subject t1: no brain (its lesion outside every brain voxel)
    test.rows["lesion_pixels"] = test.masks.sum(axis=(1, 2))
    write_results(tmp_path, test, chunk_cases=5)
    store.seal(tmp_path)
    raw = evaluate_volume_run(tmp_path, resamples=100).variants["raw"]
    subjects = raw.subjects.set_index(pd.Index(["t0", "t1", "t2"]))
    assert np.isnan(subjects.loc["t2", "dice 0.01"]) and np.isnan(subjects.loc["t2", "best dice"])
    assert subjects.loc["t1", "dice 0.01"] == 0.0 and np.isnan(subjects.loc["t1", "score"])  # nothing predicted there
    assert raw.dice[0.01].value == pytest.approx(np.nanmean(subjects["dice 0.01"]))
    assert np.isfinite(raw.subject_detection["auroc"].value)  # the subject without a brain has no score: left out


def test_a_run_that_finds_no_lesion_but_calls_noise_has_a_lesion_f1_of_zero(tmp_path):
    fabricate_volume_run(tmp_path, quality=-1.0)  # lesions darker than the noise around them
    lesions = evaluate_volume_run(tmp_path, resamples=20).variants["raw"].lesion_wise[0.01]
    assert lesions["sensitivity"] == 0.0 and lesions["precision"] == 0.0 and lesions["f1"] == 0.0
    assert lesions["false positives per subject"] > 0
