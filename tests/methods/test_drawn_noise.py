"""The noise each method's own loop draws (issue 35): THOR in simplex mode draws simplex fields in its
loop, cDDPM and pDDPM the 2-D simplex noise their checkpoints were trained on, THOR and DDPM in
Gaussian mode white noise. Checked on what is drawn: the method's noise kind is wrapped, every
draw kept, and simplex fields told from white noise by their neighbouring pixels' correlation."""

import torch

from anobench import registry
from anobench.api import Batch, MethodContext


class DrawnNoise:
    """The method's own noise kind, keeping every draw it makes."""

    def __init__(self, kind):
        self.kind, self.drawn = kind, []

    @property
    def name(self):
        return self.kind.name

    def draw(self, *args, **kwargs):
        self.drawn.append(self.kind.draw(*args, **kwargs))
        return self.drawn[-1]

    def draw_batch(self, *args, **kwargs):
        self.drawn.append(self.kind.draw_batch(*args, **kwargs))
        return self.drawn[-1]


def neighbour_correlation(noise: torch.Tensor) -> float:
    """Correlation of horizontally neighbouring pixels: ≈ 0 for white noise, near 1 for smooth fields."""
    centred = noise.double() - noise.double().mean()
    left, right = centred[..., :-1].flatten(), centred[..., 1:].flatten()
    return float((left * right).sum() / torch.sqrt((left**2).sum() * (right**2).sum()))


def drawn_by(name, checkpoint, images, **options):
    context = MethodContext("brain-phantom", "cpu-small", 64, torch.device("cpu"), checkpoint)
    method = registry.methods.get(name).create({key: str(value) for key, value in options.items()}, context)
    method.noise = DrawnNoise(method.noise)
    with torch.inference_mode():
        method.predict(Batch(images, [f"c{i}" for i in range(len(images))], seed=0))
    assert method.noise.drawn, f"{name} drew no noise through its noise kind"
    return [neighbour_correlation(noise) for noise in method.noise.drawn]


IMAGES = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(0))


def test_thor_draws_simplex_fields_in_simplex_mode_and_white_noise_in_gaussian_mode(
    denoiser_checkpoint, simplex_checkpoint
):
    simplex = drawn_by("thor", simplex_checkpoint, IMAGES, noise="simplex", t0=60, harmonization="50",
                       stride=20, perceptual="none")  # fmt: skip
    gaussian = drawn_by("thor", denoiser_checkpoint, IMAGES, t0=60, harmonization="50", stride=20, perceptual="none")
    assert len(simplex) >= 3 and min(simplex) > 0.5  # T0's field and every reverse step's
    assert max(abs(c) for c in gaussian) < 0.1


def test_cddpm_and_pddpm_draw_the_2d_simplex_noise_they_were_trained_on(conditioned_checkpoint, patched_checkpoint):
    assert min(drawn_by("cddpm", conditioned_checkpoint, IMAGES)) > 0.5
    assert min(drawn_by("pddpm", patched_checkpoint, IMAGES)) > 0.5
