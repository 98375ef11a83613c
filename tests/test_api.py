import numpy as np
import pytest
from conftest import SMALL_PHANTOM

import anobench


def test_python_api_runs_and_compares(denoiser_checkpoint, tmp_path):
    summary = anobench.run(
        "ddpm",
        "brain-phantom",
        checkpoint=denoiser_checkpoint,
        dataset_options=SMALL_PHANTOM,
        method_options={"t0": "20", "stride": "10"},
        out=tmp_path / "run",
        device="cpu",
    )
    assert summary.cases == 12 and summary.merged
    path, metrics = anobench.compare([str(summary.folder)], name="api", out_dir=tmp_path)
    assert path.read_text().startswith("# Leaderboard: brain-phantom")
    assert metrics[0].run.method == "ddpm" and metrics[0].run.nfe == 3
    # to the ε the protocol adds to its denominators (DICE_EPSILON)
    assert metrics[0].dice["all"].dice == pytest.approx(brute_force_max_dice(summary.folder), abs=1e-9)


def brute_force_max_dice(folder):
    """Pooled max-Dice of a run by another road than the protocol's: the scored cases' pixels sorted by
    map value, Dice at every cut between two distinct values (anomalous where map ≥ τ)."""
    from anobench.store.results import read_results

    results = read_results(folder)
    scored = np.array([isinstance(b, str) for b in results.rows["size_bin"]])
    values, truth = results.maps[scored].ravel().astype(np.float64), results.masks[scored].ravel()
    order = np.argsort(-values, kind="stable")
    values, truth = values[order], truth[order]
    true_positives = np.cumsum(truth)
    flagged = np.arange(1, len(values) + 1)
    cuts = np.append(values[1:] != values[:-1], True)  # ties are cut together
    return float(np.max(2 * true_positives[cuts] / (flagged[cuts] + truth.sum())))
