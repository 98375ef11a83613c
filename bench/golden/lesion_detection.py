"""Make tests/golden/lesion-detection.{npz,json}: Metrics Reloaded (Project-MONAI/MetricsReloaded)
run once on fixed volumes and scores, its numbers stored for tests/test_volume_golden.py.

- Lesion-wise: the lesions and the predicted components (26-connected, labelled here by
  scipy.ndimage.label; Metrics Reloaded takes instances as given) matched by its
  `AssignmentMapping` with localization `mask_ior` > 0 (a prediction matches a lesion it overlaps
  at all), greedy matching, and `flag_fp_in=False` (a second prediction on a found lesion is no
  false positive): per subject, true positives (lesions found), false negatives and false
  positives (predictions touching no lesion).
- Detection: its `ProbabilityPairwiseMeasures.auroc` and `.average_precision` on subject scores with
  ties (positives against negatives).

The checkout is imported from the path given (its code stays out of this project):

    .venv/bin/python bench/golden/lesion_detection.py METRICS_RELOADED_CHECKOUT [COMMIT]

(COMMIT: the commit the checkout holds, when it is an export rather than a git work tree.)
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

OUT = Path(__file__).resolve().parents[2] / "tests" / "golden"
SHAPE = (12, 40, 40)
FULL = np.ones((3, 3, 3), bool)


def _ball(centre: tuple[float, float, float], radius: float) -> np.ndarray:
    z, y, x = np.ogrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    return (z - centre[0]) ** 2 / 4 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= radius**2


def volumes(rng: np.random.Generator, bridging: bool) -> tuple[np.ndarray, np.ndarray]:
    """Lesions at three of four well-apart places; predictions near some (overlapping or not) and a
    stray one; with `bridging`, one prediction spanning the two lesions of the top row."""
    places = [(6, 10, 10), (6, 10, 30), (6, 30, 10), (6, 30, 30)]
    lesion = np.zeros(SHAPE, bool)
    segmentation = np.zeros(SHAPE, bool)
    for index in rng.permutation(4)[:3]:
        centre = np.array(places[index], float)
        lesion |= _ball(tuple(centre), rng.uniform(2.0, 4.0))
        kind = rng.integers(3)  # 0: missed, 1: overlapping prediction, 2: two predictions on it
        for _ in range(int(kind)):
            shift = rng.uniform(-3, 3, size=3) * [0.5, 1, 1]
            segmentation |= _ball(tuple(centre + shift), rng.uniform(1.5, 2.5))
    segmentation |= _ball((rng.uniform(2, 10), 20.0, 20.0), 1.5)  # stray: between the places
    if bridging:
        lesion |= _ball((6, 10, 10), 3.0) | _ball((6, 10, 30), 3.0)
        segmentation[5:8, 9:12, 8:33] = True
    return lesion, segmentation


def _instances(mask: np.ndarray) -> list[np.ndarray]:
    labels, count = ndimage.label(mask, structure=FULL)
    return [labels == k for k in range(1, count + 1)]


def main(checkout: Path, commit: str | None) -> None:
    sys.path.insert(0, str(checkout))
    from MetricsReloaded.metrics.prob_pairwise_measures import ProbabilityPairwiseMeasures
    from MetricsReloaded.utility.assignment_localization import AssignmentMapping

    rng = np.random.default_rng(53)
    subjects = [volumes(rng, bridging=index == 5) for index in range(6)]
    counts = []
    for lesion, segmentation in subjects:
        predictions, references = _instances(segmentation), _instances(lesion)
        with contextlib.redirect_stdout(io.StringIO()):  # the release prints its progress
            mapping = AssignmentMapping(
                predictions, references, None, localization="mask_ior", thresh=0.0, flag_fp_in=False
            )
        table = mapping.df_matching
        counts.append(
            {
                "lesions": len(references),
                "predicted": len(predictions),
                "true_positive": int(((table["ref"] >= 0) & (table["pred"] >= 0)).sum()),
                "false_negative": int((table["pred"] < 0).sum()),
                "false_positive": int((table["ref"] < 0).sum()),
            }
        )
    scores = np.round(rng.uniform(0, 1, 25) + np.r_[np.full(15, 0.3), np.zeros(10)], 1)  # ties on purpose
    labels = np.r_[np.ones(15), np.zeros(10)]
    measures = ProbabilityPairwiseMeasures(scores, labels)
    if commit is None:
        commit = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout
    np.savez_compressed(
        OUT / "lesion-detection.npz",
        lesion=np.stack([s[0] for s in subjects]),
        segmentation=np.stack([s[1] for s in subjects]),
        scores=scores,
        labels=labels,
    )
    record = {
        "source": "Project-MONAI/MetricsReloaded",
        "commit": commit.strip(),
        "made_by": "bench/golden/lesion_detection.py",
        "lesion_wise": {
            "how": "AssignmentMapping(localization='mask_ior', thresh=0.0, assignment='greedy_matching', "
            "flag_fp_in=False) on 26-connected components (scipy.ndimage.label); subject 5 has one prediction "
            "spanning two lesions",
            "subjects": counts,
        },
        "detection": {
            "how": "ProbabilityPairwiseMeasures(scores, labels): auroc(), average_precision() (trapezoidal)",
            "auroc": float(measures.auroc()),
            "average_precision_trapezoidal": float(measures.average_precision()),
        },
    }
    (OUT / "lesion-detection.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
