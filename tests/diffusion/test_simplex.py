import numpy as np
import opensimplex
import pytest
import torch

from anobench.api import Batch
from anobench.diffusion.noise import CaseRandom, noise_kind
from anobench.diffusion.simplex import SimplexNoise


def test_field_is_the_octave_sum_of_3d_opensimplex_at_pixel_coordinates():
    offset = (1234.5, 77.25, 9000.0)
    field = SimplexNoise().field(offset, height=32, width=48, timestep=250)
    simplex = opensimplex.OpenSimplex(0)
    for row, column in [(0, 0), (5, 17), (31, 47), (12, 40)]:
        x, y, t = column + offset[0], row + offset[1], 250 + offset[2]
        expected = sum(0.8**k * simplex.noise3(x / (64 / 2**k), y / (64 / 2**k), t / (64 / 2**k)) for k in range(6))
        assert field[row, column] == pytest.approx(expected, abs=1e-12)


def test_2d_variant_is_the_octave_sum_of_2d_opensimplex_and_ignores_the_timestep():
    offset = (1234.5, 77.25, 9000.0)
    kind = SimplexNoise(dimensions=2)
    field = kind.field(offset, height=32, width=48, timestep=250)
    simplex = opensimplex.OpenSimplex(0)
    for row, column in [(0, 0), (5, 17), (31, 47)]:
        x, y = column + offset[0], row + offset[1]
        expected = sum(0.8**k * simplex.noise2(x / (64 / 2**k), y / (64 / 2**k)) for k in range(6))
        assert field[row, column] == pytest.approx(expected, abs=1e-12)
    assert np.array_equal(field, kind.field(offset, 32, 48, timestep=7))
    assert noise_kind("simplex-2d").name == "simplex-2d"


def mean_abs_correlation(fields):
    return float(torch.corrcoef(torch.stack([f.flatten().double() for f in fields])).fill_diagonal_(0).abs().mean())


def test_draws_at_random_offsets_are_as_unrelated_as_freshly_seeded_fields():
    generator = torch.Generator().manual_seed(0)
    windows = [noise_kind("simplex").draw(generator, (1, 64, 64), 100) for _ in range(30)]
    pixels = np.arange(64.0)
    reseeded = []
    for seed in range(30):  # the released code's way: a new OpenSimplex seed per field
        simplex = opensimplex.OpenSimplex(seed + 1)
        octaves = [0.8**k * simplex.noise3array(pixels / (64 / 2**k), pixels / (64 / 2**k), np.array([100 / (64 / 2**k)]))[0] for k in range(6)]
        reseeded.append(torch.from_numpy(sum(octaves)))
    # smooth 64×64 fields have few degrees of freedom, so even independent ones correlate ~0.16 on average
    assert mean_abs_correlation(windows) < 1.3 * mean_abs_correlation(reseeded)


def test_unnormalised_field_keeps_its_natural_scale_and_the_normalised_kind_is_standardised():
    offsets = (torch.rand(20, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2**20).tolist()
    fields = [SimplexNoise().field(offset, 64, 64, 100) for offset in offsets]
    stds = np.array([f.std() for f in fields])
    assert 0.3 < stds.mean() < 0.7  # spec: per-image std ≈ 0.45–0.56 at 128², not 1
    assert max(abs(f.mean()) for f in fields) > 0.05  # not centred
    normalised = noise_kind("simplex-normalised").draw(torch.Generator().manual_seed(0), (1, 64, 64), 100)
    assert float(normalised.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(normalised.std(unbiased=False)) == pytest.approx(1.0, abs=1e-4)


def test_each_channel_and_each_draw_gets_its_own_field():
    generator = torch.Generator().manual_seed(3)
    kind = noise_kind("simplex")
    first = kind.draw(generator, (2, 16, 16), 10)
    second = kind.draw(generator, (2, 16, 16), 10)
    assert first.shape == (2, 16, 16) and first.dtype == torch.float32
    assert not torch.equal(first[0], first[1]) and not torch.equal(first, second)


def test_case_noise_depends_on_the_case_not_on_its_batch():
    kind = noise_kind("simplex")
    alone = CaseRandom(["b"], seed=4, device=torch.device("cpu")).sample(kind, (1, 16, 16), 50)
    together = CaseRandom(["a", "b"], seed=4, device=torch.device("cpu")).sample(kind, (1, 16, 16), 50)
    torch.testing.assert_close(together[1], alone[0], rtol=0, atol=0)
    shared = CaseRandom(["a", "b"], seed=4, device=torch.device("cpu"), shared=True).sample(kind, (1, 16, 16), 50)
    torch.testing.assert_close(shared[1], together[0], rtol=0, atol=0)  # released: the first case's draw for all


def test_simplex_chains_draw_simplex_fields_for_the_jump_and_every_reverse_step(tiny_simplex_checkpoint, monkeypatch):
    from anobench.diffusion.checkpoint import load_model
    from anobench.diffusion.sampler import chain_for_batch

    model, _ = load_model(tiny_simplex_checkpoint, torch.device("cpu"))
    drawn = []
    original = SimplexNoise.draw

    def spy(self, generator, shape, timestep):
        drawn.append(timestep)
        return original(self, generator, shape, timestep)

    monkeypatch.setattr(SimplexNoise, "draw", spy)
    images = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        _, chain = chain_for_batch(model, Batch(images, ["c"], seed=0), 40, 10, noise_kind("simplex"))
        chain.run()
    assert drawn == [40, 40, 30, 20, 10]  # the jump, then one field per stochastic reverse step
