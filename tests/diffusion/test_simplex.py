import itertools

import numpy as np
import opensimplex
import pytest
import torch

from anobench.api import Batch
from anobench.diffusion.noise import CaseRandom, noise_kind
from anobench.diffusion.simplex import REACH_2D, REACH_3D, SimplexNoise, lattice_noise2, lattice_noise3


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
        octaves = [
            0.8**k * simplex.noise3array(pixels / (64 / 2**k), pixels / (64 / 2**k), np.array([100 / (64 / 2**k)]))[0]
            for k in range(6)
        ]
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


def test_simplex_chains_draw_simplex_fields_for_the_jump_and_every_reverse_step(simplex_checkpoint, monkeypatch):
    from anobench.diffusion.checkpoint import load_model
    from anobench.diffusion.sampler import chain_for_batch

    model, _ = load_model(simplex_checkpoint, torch.device("cpu"))
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


def test_the_device_lattice_sum_is_the_packages_noise_in_2d_and_3d():
    points = torch.rand(3, 20_000, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 2.0**14
    x, y, z = points
    simplex = opensimplex.OpenSimplex(0)
    reference2 = np.array([simplex.noise2(a, b) for a, b in zip(x.tolist(), y.tolist())])
    np.testing.assert_allclose(lattice_noise2(x, y).numpy(), reference2, rtol=0, atol=1e-10)
    reference3 = np.array([simplex.noise3(a, b, c) for a, b, c in zip(x.tolist(), y.tolist(), z.tolist())])
    # includes the ~4 % of points where the package's case analysis leaves out a vertex in reach
    np.testing.assert_allclose(lattice_noise3(x, y, z).numpy(), reference3, rtol=0, atol=1e-10)


def test_no_lattice_vertex_outside_the_listed_reach_is_within_the_kernel():
    from opensimplex import constants

    points = np.random.default_rng(2).random((3, 50_000)) * 512
    for reach, stretch, squish in (
        (REACH_2D, constants.STRETCH_CONSTANT2, constants.SQUISH_CONSTANT2),
        (REACH_3D, constants.STRETCH_CONSTANT3, constants.SQUISH_CONSTANT3),
    ):
        dimensions = len(reach[0])
        coordinates = points[:dimensions]
        base = np.floor(coordinates + coordinates.sum(0) * stretch)
        for step in itertools.product(range(-3, 4), repeat=dimensions):
            vertex = base + np.array(step)[:, None]
            squared = ((coordinates - vertex - vertex.sum(0) * squish) ** 2).sum(0)
            assert step in reach or squared.min() >= 2, step


@pytest.mark.parametrize("name", ["simplex", "simplex-2d", "simplex-normalised"])
def test_device_draws_take_the_same_windows_from_each_cases_generator(name):
    kind = noise_kind(name)
    host_generators = [torch.Generator().manual_seed(seed) for seed in (1, 2, 3)]
    device_generators = [torch.Generator().manual_seed(seed) for seed in (1, 2, 3)]
    host = kind.draw_batch(host_generators, (1, 32, 32), 40, torch.device("cpu"))
    device = kind.draw_batch(device_generators, (1, 32, 32), 40, torch.device("cpu"), on_device=True)
    assert device.shape == host.shape == (3, 1, 32, 32) and device.dtype == torch.float32
    torch.testing.assert_close(device, host, rtol=0, atol=1e-6)
    assert all(torch.equal(a.get_state(), b.get_state()) for a, b in zip(host_generators, device_generators))


def test_one_generator_drawn_at_a_timestep_per_image_as_training_does():
    kind = noise_kind("simplex")
    host_generator, device_generator = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    one_by_one = torch.stack([kind.draw(host_generator, (1, 16, 16), t) for t in (5, 40, 90)])
    batched = kind.draw_batch([device_generator] * 3, (1, 16, 16), [5, 40, 90], torch.device("cpu"), on_device=True)
    torch.testing.assert_close(batched, one_by_one, rtol=0, atol=1e-6)
    assert torch.equal(host_generator.get_state(), device_generator.get_state())
