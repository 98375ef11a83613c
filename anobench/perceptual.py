"""Perceptual distance maps for THOR's eq. (3) (and AutoDDPM's mask), one per image.

Backends (`perceptual=`):
- `lpips-squeeze` (the paper's), `lpips-alex`, `lpips-vgg`: the `lpips` package (v0.1 linear
  heads, which it ships) on an ImageNet trunk whose torchvision weights must be on disk — in the
  torch hub cache (`<torch hub dir>/checkpoints/`) or given as `lpips_weights=PATH`. Nothing is
  downloaded: a missing file is an error naming it and where it comes from.
- `ssim`: 1 − SSIM map (MONAI's SSIM, 11×11 Gaussian window, σ = 1.5, data range 1) on a
  reflect-padded image, so the map has the image's size.
- `unet`: LPIPS-style distances between the trained denoiser's own encoder features at t = 0
  (conv_in, every down block, the middle block): per layer the squared distance of the
  channel-normalised feature vectors divided by 4 (so in [0, 1]), upsampled bilinearly to the
  image size, averaged over layers with equal weights. Needs no external weights.
- `none`: a map of ones, so the anomaly map is the residual alone.
- `auto`: `lpips-squeeze` when its weights are found, else `unet`, with a warning.
The backend actually used is recorded with every result.
"""

from __future__ import annotations

import typing
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import torch
import torch.nn.functional as F

from anobench.errors import AnobenchError

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5


class Denoiser(Protocol):
    """What the `unet` backend reads of a denoiser (`anobench.diffusion.model.DiffusionModel`): named
    by its use, so that the evaluation can reach LPIPS without the diffusion core."""

    @property
    def unet(self) -> torch.nn.Module: ...

    @property
    def device(self) -> torch.device: ...

    def to_model_range(self, images: torch.Tensor) -> torch.Tensor: ...


class PerceptualBackend(Protocol):
    name: str

    def distance_map(self, estimate: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """B×1×H×W distances (≥ 0) between two batches of [0, 1] images."""
        ...


class NoPerceptual:
    name = "none"

    def distance_map(self, estimate: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(image)


class StructuralDissimilarity:
    name = "ssim"

    def distance_map(self, estimate: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        from monai.metrics.regression import compute_ssim_and_cs

        pad = SSIM_WINDOW // 2
        padded = [F.pad(x.float(), (pad, pad, pad, pad), mode="reflect") for x in (estimate, image)]
        ssim, _ = compute_ssim_and_cs(
            padded[0],
            padded[1],
            spatial_dims=2,
            kernel_size=(SSIM_WINDOW, SSIM_WINDOW),
            kernel_sigma=(SSIM_SIGMA, SSIM_SIGMA),
            data_range=1.0,
        )
        return (1 - ssim).clamp(min=0.0)


@dataclass(frozen=True)
class Trunk:
    """An ImageNet network whose torchvision weights an LPIPS backend needs."""

    lpips_net: str
    description: str
    weights_file: str

    @property
    def url(self) -> str:
        return f"https://download.pytorch.org/models/{self.weights_file}"


TRUNKS = {
    "lpips-squeeze": Trunk("squeeze", "SqueezeNet 1.1", "squeezenet1_1-b8a52dc0.pth"),
    "lpips-alex": Trunk("alex", "AlexNet", "alexnet-owt-7be5be79.pth"),
    "lpips-vgg": Trunk("vgg", "VGG-16", "vgg16-397923af.pth"),
}


def hub_weights_path(trunk: Trunk) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / trunk.weights_file


def find_trunk_weights(trunk: Trunk, given: Path | None) -> Path | None:
    """The weights file given, else the one in the torch hub cache, else None."""
    if given is not None:
        return given if given.is_file() else None
    cached = hub_weights_path(trunk)
    return cached if cached.is_file() else None


class LearnedPerceptualSimilarity:
    """LPIPS v0.1 spatial map from `network` (an `lpips.LPIPS(spatial=True)`, called as the released
    code calls it: repeated to three channels, `normalize=True`); `double_scaling` feeds 4x − 3 as the
    released THOR code did."""

    def __init__(self, name: str, network: torch.nn.Module, double_scaling: bool) -> None:
        self.name = name
        self.model = network
        self.double_scaling = double_scaling

    def distance_map(self, estimate: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        first, second = (x.float().repeat(1, 3, 1, 1) for x in (estimate, image))
        if self.double_scaling:  # the released code maps to 2x − 1 and then asks LPIPS to do it again
            first, second = 2 * first - 1, 2 * second - 1
        with torch.no_grad():
            return self.model(first, second, normalize=True)


def load_lpips(
    name: str, weights: Path | None, device: torch.device, double_scaling: bool
) -> LearnedPerceptualSimilarity:
    """An LPIPS backend on the ImageNet trunk `weights` (or the torch hub cache's); nothing is downloaded."""
    trunk = TRUNKS[name]
    path = find_trunk_weights(trunk, weights)
    if path is None:
        where = weights if weights is not None else hub_weights_path(trunk)
        raise AnobenchError(
            f"{name} needs torchvision's ImageNet {trunk.description} weights {trunk.weights_file}, "
            f"not found at {where}; download it from {trunk.url} into {hub_weights_path(trunk).parent} "
            f"(or pass lpips_weights=PATH), or choose perceptual=unet/ssim/none"
        )
    import lpips

    with warnings.catch_warnings():  # torchvision's note on the deprecated `pretrained` flag
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net=trunk.lpips_net, spatial=True, pnet_rand=True, verbose=False)
    _load_trunk(model.net, path)
    return LearnedPerceptualSimilarity(name, model.to(device).eval(), double_scaling)


def _load_trunk(net: torch.nn.Module, path: Path) -> None:
    """Copy torchvision `features.<i>.*` weights into lpips' slices (whose children are named i)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        for slice_module in net.children():
            for index, layer in slice_module.named_children():
                prefix = f"features.{index}."
                layer.load_state_dict(
                    {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}
                )
    except Exception as error:  # unpickling and shape errors alike mean "not the expected file"
        raise AnobenchError(f"{path} does not hold the expected ImageNet trunk weights: {error}") from None


class DenoiserFeatures:
    """Distances between the denoiser's encoder features of the two images at t = 0."""

    name = "unet"

    def __init__(self, denoiser: Denoiser) -> None:
        self.denoiser = denoiser
        self._reference: tuple[torch.Tensor, list[torch.Tensor]] | None = None

    def _features(self, images: torch.Tensor) -> list[torch.Tensor]:
        from monai.networks.nets.diffusion_model_unet import DiffusionModelUNet, get_timestep_embedding

        unet = self.denoiser.unet
        if not isinstance(unet, DiffusionModelUNet):
            raise AnobenchError("the unet perceptual distance needs an unconditioned denoiser")
        x = self.denoiser.to_model_range(images.float())
        timesteps = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        embedding = unet.time_embed(get_timestep_embedding(timesteps, unet.block_out_channels[0]).to(x.dtype))
        hidden = unet.conv_in(x)
        features = [hidden]
        for block in unet.down_blocks:
            hidden, _ = block(hidden_states=hidden, temb=embedding, context=None)
            features.append(hidden)
        features.append(unet.middle_block(hidden_states=hidden, temb=embedding, context=None))
        return features

    def distance_map(self, estimate: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        import lpips

        with torch.no_grad():
            # THOR compares many estimates with one input: compute the input's features once
            if self._reference is None or self._reference[0] is not image:
                self._reference = (image, self._features(image))
            reference = self._reference[1]
            layers = [
                lpips.upsample(
                    ((lpips.normalize_tensor(a) - lpips.normalize_tensor(b)) ** 2).sum(1, keepdim=True) / 4,
                    out_HW=image.shape[2:],
                )
                for a, b in zip(self._features(estimate), reference)
            ]
        return torch.stack(layers).mean(0)


Backend = Literal["auto", "lpips-squeeze", "lpips-alex", "lpips-vgg", "ssim", "unet", "none"]
BACKENDS: tuple[str, ...] = typing.get_args(Backend)


def resolve_backend(name: str, lpips_weights: Path | None) -> str:
    """The backend `auto` stands for here (others unchanged); warns when auto falls back."""
    if name not in BACKENDS:
        raise AnobenchError(f"unknown perceptual backend {name!r}; available: {', '.join(BACKENDS)}")
    if name != "auto":
        return name
    trunk = TRUNKS["lpips-squeeze"]
    if find_trunk_weights(trunk, lpips_weights) is not None:
        return "lpips-squeeze"
    warnings.warn(
        f"perceptual=auto: {trunk.weights_file} (ImageNet {trunk.description}, {trunk.url}) is not in "
        f"{hub_weights_path(trunk).parent}, so the paper's lpips-squeeze backend is replaced by `unet` "
        f"(the denoiser's own features); results are labelled with the backend used",
        stacklevel=2,
    )
    return "unet"


def open_backend(
    requested: str, denoiser: Denoiser, lpips_weights: str | None, double_scaling: bool = False
) -> PerceptualBackend:
    """The backend a method setting asks for (`auto` resolved; its `name` is the one used)."""
    weights = Path(lpips_weights) if lpips_weights else None
    return perceptual_backend(resolve_backend(requested, weights), denoiser, weights, double_scaling)


def perceptual_backend(
    name: str,
    denoiser: Denoiser,
    lpips_weights: Path | None = None,
    double_scaling: bool = False,
) -> PerceptualBackend:
    """A backend by resolved name (see `resolve_backend`)."""
    if name in TRUNKS:
        return load_lpips(name, lpips_weights, denoiser.device, double_scaling)
    if name == "unet":
        return DenoiserFeatures(denoiser)
    if name == "ssim":
        return StructuralDissimilarity()
    if name == "none":
        return NoPerceptual()
    raise AnobenchError(f"unknown perceptual backend {name!r}; available: {', '.join(BACKENDS)}")
