import os
import subprocess
import sys

import numpy as np

from anobench.imaging import normalise_98th_percentile, pad_to_square, prepare_mask, prepare_slice


def test_98th_percentile_scaling_caps_at_one():
    image = np.arange(100, dtype=np.float32)
    scaled = normalise_98th_percentile(image)
    assert scaled.max() == 1.0
    np.testing.assert_allclose(scaled[:50], image[:50] / np.percentile(image, 98))


def test_pad_to_square_centres_with_the_fill_value():
    padded = pad_to_square(np.ones((2, 5)), fill=-1)
    assert padded.shape == (5, 5)
    np.testing.assert_array_equal(padded[:, 0], [-1, 1, 1, -1, -1])


def test_mask_follows_the_image_geometry():
    image = np.zeros((60, 90), np.float32)
    mask = np.zeros((60, 90), bool)
    image[20:40, 30:60] = 1
    mask[20:40, 30:60] = True
    prepared, prepared_mask = prepare_slice(image, 30), prepare_mask(mask, 30)
    assert prepared.shape == prepared_mask.shape == (30, 30)
    assert prepared_mask.dtype == bool
    assert prepared[prepared_mask].mean() > 0.9 and prepared[~prepared_mask].mean() < 0.1
    rows, cols = np.nonzero(prepared_mask)
    assert abs(rows.mean() - 14.5) < 1 and abs(cols.mean() - 14.5) < 1


_RESIZE_DIGEST = """
import hashlib, numpy as np
from anobench.imaging import resize_image
image = np.random.default_rng(0).random((233, 197)).astype(np.float32)
print(hashlib.sha256(resize_image(image, 128).tobytes()).hexdigest())
"""


def test_resize_gives_the_same_bytes_on_every_torch_cpu_kernel():
    """The phantom is made through this resize: it must not depend on the CPU that ran it.

    `ATEN_CPU_CAPABILITY=default` makes torch use its plain kernels instead of the vectorised ones
    it picked for this CPU; in float32 the two round differently (the brain phantom's data manifest
    then differed between machines).
    """
    digests = set()
    for capability in (None, "default"):
        env = {key: value for key, value in os.environ.items() if key != "ATEN_CPU_CAPABILITY"}
        if capability:
            env["ATEN_CPU_CAPABILITY"] = capability
        result = subprocess.run(
            [sys.executable, "-c", _RESIZE_DIGEST], env=env, capture_output=True, text=True, check=True
        )
        digests.add(result.stdout.strip())
    assert len(digests) == 1, digests
