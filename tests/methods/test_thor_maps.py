"""Golden values for THOR's building blocks, computed by hand on tiny arrays."""

import numpy as np
import pytest
import torch

from anobench.methods.thor import maps as thor_maps


def tensor(rows):
    return torch.tensor(rows, dtype=torch.float32)[None, None]


def test_normalise_by_own_maximum_per_image():
    maps = torch.stack([tensor([[0.0, 2.0, 4.0]])[0], tensor([[0.0, 0.5, 1.0]])[0]])
    result = thor_maps.normalise_by_max(maps)
    np.testing.assert_allclose(result[0, 0, 0], [0, 0.5, 1.0], rtol=1e-6)
    np.testing.assert_allclose(result[1, 0, 0], [0, 0.5, 1.0], rtol=1e-6)  # not divided by the batch max 4


def test_harmonic_mean_is_zero_where_any_map_is_zero():
    first, second = tensor([[1.0, 0.5], [0.25, 0.0]]), tensor([[1.0, 0.25], [0.5, 1.0]])
    result = thor_maps.harmonic_mean([first, second])
    np.testing.assert_allclose(result[0, 0], [[1.0, 1 / 3], [1 / 3, 0.0]], rtol=1e-6)


def test_guidance_mask_spreads_a_peak_by_half_the_kernel():
    a = torch.zeros(1, 1, 7, 7)
    a[0, 0, 3, 3] = 0.8
    g = thor_maps.guidance_mask(a, kernel=3)
    expected = np.zeros((7, 7))
    expected[2:5, 2:5] = 0.4  # closing keeps the lone peak, dilation spreads it; (spread + a) / 2
    expected[3, 3] = 0.8
    np.testing.assert_allclose(g[0, 0], expected, rtol=1e-6)


def test_guidance_mask_nearest_borders():
    a = torch.zeros(1, 1, 5, 5)
    a[0, 0, 0, 0] = 1.0
    g = thor_maps.guidance_mask(a, kernel=3)
    expected = np.zeros((5, 5))
    expected[:2, :2] = 0.5
    expected[0, 0] = 1.0
    np.testing.assert_allclose(g[0, 0], expected, rtol=1e-6)


def test_closing_fills_a_one_pixel_gap_before_dilation():
    a = torch.zeros(1, 1, 9, 9)
    a[0, 0, 4, 3] = a[0, 0, 4, 5] = 1.0  # two peaks with a gap between them
    closed_and_dilated = 2 * thor_maps.guidance_mask(a, kernel=3) - a
    assert float(closed_and_dilated[0, 0, 4, 4]) == pytest.approx(1.0)


def test_blend_keeps_the_input_where_the_mask_is_zero():
    mask, estimate, image = tensor([[1.0, 0.0, 0.5]]), tensor([[0.2, 0.2, 0.2]]), tensor([[1.0, 1.0, 1.0]])
    np.testing.assert_allclose(thor_maps.blend(mask, estimate, image)[0, 0, 0], [0.2, 1.0, 0.6], rtol=1e-6)


def test_smoothing_stays_in_the_image_plane():
    maps = torch.zeros(2, 1, 9, 9)
    maps[0, 0, 4, 4] = 1.0
    smoothed = thor_maps.smooth(maps, sigma=1.0)
    assert float(smoothed[1].abs().max()) == 0.0  # nothing leaks into the other image
    assert float(smoothed[0].sum()) == pytest.approx(1.0, rel=1e-5)


def test_compose_map_is_residual_times_clipped_perceptual_then_normalised():
    residual = tensor([[0.2, 0.4], [0.0, 0.1]])
    perceptual = torch.full_like(residual, 3.0)  # clipped to 1 after smoothing
    np.testing.assert_allclose(
        thor_maps.compose_map(residual, perceptual, sigma=0.5)[0, 0], [[0.5, 1.0], [0.0, 0.25]], rtol=1e-6
    )


def test_scaling_of_pixel_sizes():
    assert thor_maps.scaled_pixels(2.0, 64) == 1.0 and thor_maps.scaled_pixels(2.0, 128) == 2.0
    assert thor_maps.scaled_kernel(13, 128) == 13
    assert thor_maps.scaled_kernel(13, 64) == 7


def test_snapping_to_kept_timesteps():
    every = list(range(350, -1, -50))
    kept_1 = list(range(350, -1, -1))
    assert thor_maps.snap_to_kept(every, kept_1) == every
    assert thor_maps.snap_to_kept([300, 150, 50], list(range(350, -1, -10))) == [300, 150, 50]
    kept_40 = [350, 310, 270, 230, 190, 150, 110, 70, 30, 0]
    assert thor_maps.snap_to_kept([300, 150, 50], kept_40) == [310, 150, 70]  # 50 ties 70/30: the larger


def test_released_batch_coupling_divides_by_the_batch_maximum():
    maps = torch.stack([tensor([[0.0, 2.0, 4.0]])[0], tensor([[0.0, 0.5, 1.0]])[0]])
    result = thor_maps.normalise_by_max(maps, across_batch=True)
    np.testing.assert_allclose(result[1, 0, 0], [0, 0.125, 0.25], rtol=1e-6)


def test_released_batch_coupling_smooths_across_the_batch_axis():
    maps = torch.zeros(2, 1, 9, 9)
    maps[0, 0, 4, 4] = 1.0
    smoothed = thor_maps.smooth(maps, sigma=1.0, across_batch=True)
    assert float(smoothed[1, 0, 4, 4]) > 0.01  # image 0's peak leaks into image 1


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_device_smoothing_equals_scipy_including_the_borders(sigma):
    maps = torch.rand(3, 1, 32, 24, generator=torch.Generator().manual_seed(0))
    on_device = thor_maps.smooth(maps, sigma, device_ops=True)
    torch.testing.assert_close(on_device, thor_maps.smooth(maps, sigma, device_ops=False), rtol=0, atol=1e-5)


@pytest.mark.parametrize("kernel", [3, 5])
def test_device_morphology_equals_scipy_including_the_borders(kernel):
    maps = torch.rand(3, 1, 20, 16, generator=torch.Generator().manual_seed(1)) ** 3
    on_device = thor_maps.guidance_mask(maps, kernel, device_ops=True)
    torch.testing.assert_close(on_device, thor_maps.guidance_mask(maps, kernel, device_ops=False), rtol=0, atol=1e-6)


def test_device_harmonic_mean_equals_scipy():
    generator = torch.Generator().manual_seed(2)
    maps = [torch.rand(2, 1, 8, 8, generator=generator) for _ in range(3)]
    maps[1][0, 0, :2] = 0.0
    on_device = thor_maps.harmonic_mean(maps, device_ops=True)
    torch.testing.assert_close(on_device, thor_maps.harmonic_mean(maps, device_ops=False), rtol=1e-5, atol=1e-6)
