"""The fixed inputs of THOR's golden test: a stub denoiser, a stub LPIPS network and injected noise.

The golden arrays (`golden/thor-release-chain.npz`) were produced once by running the official THOR
code (compai-lab/2024-miccai-bercea-thor, commit recorded in the file) on these same stubs: its
`DDPM.sample_from_image_interpol` with this denoiser as its UNet, this network as its LPIPS and
these arrays as every noise draw (its own scheduler, map functions and loop). anobench's THOR must
reproduce them. Everything here is deterministic, platform-independent integer hashing or float32
torch arithmetic, so both sides see identical numbers.
"""

import numpy as np
import torch

SIDE = 32
INITIAL_NOISE_KEY = 100_000  # the ε drawn once before the chain; step noise is keyed by its timestep
PATTERN_KEY = 200_000


def hashed_uniform(key: int, shape=(SIDE, SIDE)) -> np.ndarray:
    """Unit-variance uniform numbers in [−√3, √3) from a splitmix64 hash of (key, index): exact integer
    arithmetic, so the same on every machine."""
    mask = np.uint64(0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        x = (np.arange(int(np.prod(shape)), dtype=np.uint64) + np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) & mask
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    unit = (x >> np.uint64(11)).astype(np.float64) / 2.0**53
    return ((2 * unit - 1) * np.sqrt(3.0)).astype(np.float32).reshape(shape)


def injected_noise(timestep: int | None) -> torch.Tensor:
    """1×1×S×S noise: the initial ε for None, else the reverse step's noise at `timestep`."""
    key = INITIAL_NOISE_KEY if timestep is None else int(timestep)
    return torch.from_numpy(hashed_uniform(key))[None, None]


class StubDenoiser(torch.nn.Module):
    """ε̂(x, t) = tanh(1.3·x + 0.4·pattern) · (0.3 + 0.7·t/1000): cheap, smooth, and far from exact, so
    x̂0 leaves the image range (which the clip must handle as released)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("pattern", torch.from_numpy(hashed_uniform(PATTERN_KEY) / np.float32(np.sqrt(3.0))))

    def forward(self, x, timesteps, context=None):  # the signature both codes call
        t = float(timesteps.reshape(-1)[0])
        return torch.tanh(1.3 * x + 0.4 * self.pattern) * (0.3 + 0.7 * t / 1000)


class StubLPIPS(torch.nn.Module):
    """Stands in for `lpips.LPIPS(spatial=True)`: B×3×H×W pairs → B×1×H×W distances. It depends on the
    inputs' scale, so feeding 2x − 1 once or twice (the released quirk) changes the result."""

    def forward(self, first, second, normalize=False, retPerLayer=False):
        if normalize:
            first, second = 2 * first - 1, 2 * second - 1
        difference = (first - second).mean(1, keepdim=True)
        return 0.25 * difference * difference + 0.02 * (first.mean(1, keepdim=True) + 3).abs()


def input_image() -> torch.Tensor:
    """A smooth 'brain' disc with a dark 'lesion', 1×1×S×S in [0, 1]."""
    rows, cols = np.meshgrid(np.arange(SIDE), np.arange(SIDE), indexing="ij")
    radius = np.hypot(rows - SIDE / 2 + 0.5, cols - SIDE / 2 + 0.5)
    image = np.clip(1.2 - radius / (SIDE / 2.4), 0, 1) * 0.8 + 0.05 * hashed_uniform(7) / np.sqrt(3.0)
    image[10:15, 17:23] *= 0.3
    return torch.from_numpy(np.clip(image, 0, 1).astype(np.float32))[None, None]
