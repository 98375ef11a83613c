import json

import pytest
import torch
from conftest import SMALL_PHANTOM

from anobench.config import to_plain
from anobench.diffusion.checkpoint import load_model, read_checkpoint
from anobench.errors import AnobenchError
from anobench.training.trainer import TrainConfig, train

CONFIG = TrainConfig(steps=4, batch_size=2, save_every=2, augment=True)


def weights(path):
    return read_checkpoint(path)["model"]


def assert_same_weights(first, second):
    assert first.keys() == second.keys()
    for key in first:
        torch.testing.assert_close(first[key], second[key], rtol=0, atol=0)


def test_training_is_deterministic_and_writes_a_manifest(tmp_path):
    a = train(CONFIG, tmp_path / "a.pt", SMALL_PHANTOM, "cpu")
    train(CONFIG, tmp_path / "b.pt", SMALL_PHANTOM, "cpu")
    assert_same_weights(weights(tmp_path / "a.pt"), weights(tmp_path / "b.pt"))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["a"]["sha256"] == a["sha256"]
    assert manifest["a"]["command"].startswith("anobench train --dataset brain-phantom --noise gaussian")
    assert "--set n_train=24" in manifest["a"]["command"] and manifest["a"]["seed"] == 0
    model, provenance = load_model(tmp_path / "a.pt", torch.device("cpu"))
    assert provenance["training"]["steps"] == 4 and model.input_range == (-1.0, 1.0)
    assert not (tmp_path / "a.resume.pt").exists()


def test_interrupted_training_resumes_to_the_same_weights(tmp_path, monkeypatch):
    train(CONFIG, tmp_path / "straight.pt", SMALL_PHANTOM, "cpu")

    original_step = torch.optim.Adam.step
    calls = {"n": 0}

    def crashing_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", crashing_step)
    with pytest.raises(KeyboardInterrupt):
        train(CONFIG, tmp_path / "resumed.pt", SMALL_PHANTOM, "cpu")
    assert (tmp_path / "resumed.resume.pt").exists() and not (tmp_path / "resumed.pt").exists()
    monkeypatch.setattr(torch.optim.Adam, "step", original_step)
    # as an anobench from before the latent scheme wrote it: a setting it lacks counts at its default
    state = torch.load(tmp_path / "resumed.resume.pt", weights_only=True)
    del state["train_config"]["autoencoder_steps"]
    torch.save(state, tmp_path / "resumed.resume.pt")
    train(CONFIG, tmp_path / "resumed.pt", SMALL_PHANTOM, "cpu")
    assert_same_weights(weights(tmp_path / "straight.pt"), weights(tmp_path / "resumed.pt"))


@pytest.mark.parametrize(
    "saved",
    [
        {"steps": 99},
        {key: value for key, value in to_plain(CONFIG).items() if key != "batch_size"},  # counts as the default 16
        {**to_plain(CONFIG), "a_setting_this_anobench_lacks": 1},
    ],
)
def test_resuming_with_other_settings_is_refused(tmp_path, saved):
    torch.save({"train_config": saved}, tmp_path / "m.resume.pt")
    with pytest.raises(AnobenchError, match="interrupted run with other settings"):
        train(CONFIG, tmp_path / "m.pt", SMALL_PHANTOM, "cpu")


def test_weight_average_forgets_the_initial_weights_quickly():
    from anobench.training.trainer import _warmup_ema

    update = _warmup_ema(0.999)
    average, current = [torch.zeros(1)], [torch.ones(1)]
    update(average, current, torch.tensor(1))
    assert float(average[0]) == pytest.approx(1 - 2 / 11)  # decay (1+n)/(10+n) at n = 1
    for n in range(2, 3000):
        update(average, current, torch.tensor(n))
    assert float(average[0]) > 0.99


def test_one_random_cell_per_image_covers_the_grid_uniformly():
    from scipy import stats

    from anobench.training.objectives import draw_cells

    cells = draw_cells(torch.Generator().manual_seed(0), 18_000, 9)
    counts = torch.bincount(cells, minlength=9).numpy()
    assert counts.min() > 0 and stats.chisquare(counts).pvalue > 1e-3


def test_patched_training_noises_one_cell_and_scores_only_that_cell(monkeypatch):
    from anobench.diffusion.model import DiffusionModel
    from anobench.diffusion.noise import noise_kind
    from anobench.diffusion.patches import patch_layout
    from anobench.diffusion.presets import get_preset
    from anobench.training.objectives import patched_loss, schedule_for

    model = DiffusionModel(
        get_preset("cpu-small"), schedule_for("patched"), (-1.0, 1.0), "simplex-2d", torch.device("cpu"), 24
    )
    seen = {}

    def network(x_t, t):
        seen["x_t"] = x_t
        return torch.zeros_like(x_t)  # predicts x0 = 0 everywhere

    monkeypatch.setattr(model, "unet", network)
    x0 = torch.rand(6, 1, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    cells = patch_layout(64, 64, 24).window_masks()
    alpha_bar = model.schedule.alphas_cumprod.float()
    loss = patched_loss(model.unet, alpha_bar, x0, noise_kind("simplex-2d"), torch.Generator().manual_seed(2), cells)
    changed = (seen["x_t"] != x0)[:, 0]
    chosen = [next(i for i, cell in enumerate(cells) if torch.equal(changed[b] | cell, cell)) for b in range(6)]
    assert all(changed[b].sum() > 0.9 * cells[chosen[b]].sum() for b in range(6))  # the whole cell, nothing else
    expected = sum(float((x0[b, 0] * cells[chosen[b]]).abs().sum()) for b in range(6)) / x0.numel()
    assert float(loss) == pytest.approx(expected, rel=1e-5)  # L1 inside the cell over all pixels


def test_patched_checkpoint_records_its_scheme(patched_checkpoint):
    model, provenance = load_model(patched_checkpoint, torch.device("cpu"))
    assert model.patch_size == 24 and provenance["patch_size"] == 24
    assert model.schedule.config.schedule == "cosine" and model.schedule.config.prediction == "sample"
    assert provenance["training"]["scheme"] == "patched" and model.noise == "simplex-2d"


def test_patch_size_belongs_to_the_patched_scheme(tmp_path):
    with pytest.raises(AnobenchError, match="--scheme patched only"):
        train(TrainConfig(steps=1, patch_size=24), tmp_path / "x.pt", SMALL_PHANTOM, "cpu")
