import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from anobench.diffusion.patches import default_patch_size, patch_layout
from anobench.errors import AnobenchError

sizes = st.integers(min_value=8, max_value=130)


@settings(max_examples=40, deadline=None)
@given(
    height=sizes,
    width=sizes,
    patch=st.integers(min_value=6, max_value=64),
    stitching=st.sampled_from(["truncate", "cut"]),
)
def test_plain_and_cut_stitching_reconstruct_every_pixel_exactly_once(height, width, patch, stitching):
    patch = min(patch, height, width)
    layout = patch_layout(height, width, patch, stitching)
    weights = layout.weights
    assert set(weights.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(weights.sum(0), torch.ones(height, width))
    assert not (weights.bool() & ~layout.window_masks()).any()  # only from the window that was noised


@settings(max_examples=40, deadline=None)
@given(height=sizes, width=sizes, patch=st.integers(min_value=6, max_value=64))
def test_avg_weights_sum_to_one_and_average_the_covering_windows(height, width, patch):
    patch = min(patch, height, width)
    layout = patch_layout(height, width, patch, "avg")
    masks = layout.window_masks()
    assert torch.allclose(layout.weights.sum(0), torch.ones(height, width), atol=1e-6)
    coverage = masks.sum(0).float()
    expected = masks.float() / coverage
    assert torch.allclose(layout.weights, expected, atol=1e-6)


def test_thor_paper_grid_truncates_the_edge_cells():
    layout = patch_layout(128, 128, 48)
    assert layout.count == 9
    assert sorted({window[:2] for window in layout.windows}) == [(0, 48), (48, 96), (96, 128)]


def test_overlapping_windows_are_full_size_and_span_the_image():
    layout = patch_layout(128, 128, 48, "avg")
    assert sorted({window[:2] for window in layout.windows}) == [(0, 48), (40, 88), (80, 128)]
    cut = patch_layout(128, 128, 48, "cut").weights[:3].sum(0)[0]  # first row of windows, one image row
    owner = patch_layout(128, 128, 48, "cut").weights[:3, 0].argmax(0)
    assert cut.sum() == 128 and owner[43] == 0 and owner[44] == 1 and owner[83] == 1 and owner[84] == 2


def test_all_modes_agree_when_the_size_is_a_multiple_of_the_patch():
    layouts = [patch_layout(96, 96, 48, mode) for mode in ("truncate", "cut", "avg")]
    assert all(layout.windows == layouts[0].windows for layout in layouts)
    assert all(torch.equal(layout.weights, layouts[0].weights) for layout in layouts)


def test_default_patch_scales_the_paper_geometry():
    assert default_patch_size(128) == 48 and default_patch_size(64) == 24


@pytest.mark.parametrize("patch", [0, 65])
def test_patch_must_fit(patch):
    with pytest.raises(AnobenchError, match="does not fit"):
        patch_layout(64, 64, patch)
