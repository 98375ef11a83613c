"""The plugin contract, enforced where plugins hand data to the harness.

A plugin that breaks the contract is named in one line saying what was expected, never a traceback
deep inside torch or numpy; what can be converted without changing a value is converted (numpy maps,
float64 images, maps on another device). Non-finite maps are refused: a NaN would count as above
every threshold and invent Dice and AUPRC.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from anobench.api import Case, Evaluation, Prediction
from anobench.errors import AnobenchError, SettingsError

if TYPE_CHECKING:
    import torch

IMAGE_TOLERANCE = 1e-3  # rounding of a plugin's intensity scaling, not a different range


class PluginError(AnobenchError):
    """A plugin broke the contract or raised; `__cause__` holds its exception (shown with --debug)."""


DATASET_MEMBERS = ("splits", "evaluation", "case_ids", "load_case", "manifest", "settings")


def checked_dataset(name: str, dataset: Any) -> Any:
    """The opened data set, if it has every member of the `Dataset` contract and an `Evaluation`;
    else one line naming what it lacks (before any run folder is touched)."""
    missing = [member for member in DATASET_MEMBERS if not hasattr(dataset, member)]
    if missing:
        raise PluginError(
            f"dataset {name!r}: its object lacks {', '.join(missing)} of the data set contract (docs/plugins.md)"
        )
    if not isinstance(dataset.evaluation, Evaluation):
        raise PluginError(f"dataset {name!r}: its `evaluation` is not an anobench.api.Evaluation")
    return dataset


def checked_case(dataset: str, case: Any, image_size: int | None = None) -> Case:
    """`case` as the harness expects it: float32 H×W image in [0, 1], bool mask and region of its shape."""
    if not isinstance(case, Case):
        raise PluginError(f"dataset {dataset!r} returned a {type(case).__name__}, not an anobench.api.Case")
    where = f"dataset {dataset!r}, case {case.case_id!r}"
    image = _floating(case.image, f"{where}: image")
    if image.ndim != 2:
        raise PluginError(f"{where}: image has shape {image.shape}; the contract expects H×W (one channel)")
    if image_size is not None and image.shape != (image_size, image_size):
        raise PluginError(f"{where}: image is {image.shape[0]}×{image.shape[1]}, the preset's size is {image_size}²")
    if not np.isfinite(image).all():
        raise PluginError(f"{where}: image holds {int((~np.isfinite(image)).sum())} non-finite pixel(s)")
    low, high = float(image.min()), float(image.max())
    if low < -IMAGE_TOLERANCE or high > 1 + IMAGE_TOLERANCE:
        raise PluginError(f"{where}: image values span [{low:g}, {high:g}]; the contract expects [0, 1]")
    return replace(
        case,
        image=image.astype(np.float32, copy=False),
        mask=_binary(case.mask, image.shape, f"{where}: mask"),
        negative_region=_binary(case.negative_region, image.shape, f"{where}: negative_region"),
        brain_mask=_binary(case.brain_mask, image.shape, f"{where}: brain_mask"),
        slice_index=_slice_index(case.slice_index, where),
    )


def _slice_index(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise PluginError(f"{where}: slice_index is {value!r}; the contract expects a whole number ≥ 0 or None")
    return int(value)


def _floating(array: Any, what: str) -> np.ndarray:
    if not isinstance(array, np.ndarray):
        raise PluginError(f"{what} is a {type(array).__name__}; the contract expects a numpy array")
    if not np.issubdtype(array.dtype, np.floating):
        raise PluginError(f"{what} is {array.dtype}; the contract expects float32 in [0, 1]")
    return array


def _binary(array: Any, shape: tuple[int, ...], what: str) -> np.ndarray | None:
    if array is None:
        return None
    array = np.asarray(array)
    if array.shape != shape:
        raise PluginError(f"{what} has shape {array.shape}, its image {shape}")
    if array.dtype != bool:
        if not np.isin(array, (0, 1)).all():
            raise PluginError(f"{what} is {array.dtype} with values other than 0 and 1; the contract expects bool")
        array = array.astype(bool)
    return array


def checked_prediction(
    method: str, prediction: Any, images: torch.Tensor, case_ids: Sequence[str]
) -> tuple[np.ndarray, np.ndarray | None]:
    """The maps (B×H×W float32) and reconstructions (or None) of a method's prediction for `images`."""
    if not isinstance(prediction, Prediction):
        raise PluginError(f"method {method!r} returned a {type(prediction).__name__}, not an anobench.api.Prediction")
    maps = _as_array(prediction.maps, images, f"method {method!r}: maps")
    bad = ~np.isfinite(maps)
    if bad.any():
        counts = bad.reshape(len(maps), -1).sum(axis=1)
        first = int(np.flatnonzero(counts)[0])
        raise PluginError(
            f"method {method!r} returned {int(counts.sum())} non-finite map value(s) (NaN or ±inf) on "
            f"{int((counts > 0).sum())} case(s), first {case_ids[first]!r} ({int(counts[first])}); "
            "they cannot be scored"
        )
    if prediction.reconstructions is None:
        return maps, None
    return maps, _as_array(prediction.reconstructions, images, f"method {method!r}: reconstructions")


def _as_array(value: Any, images: torch.Tensor, what: str) -> np.ndarray:
    """A tensor or array shaped like `images` (B×1×H×W) as float32 B×H×W on the CPU."""
    import torch

    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise PluginError(f"{what} are a {type(value).__name__}; the contract expects a torch.Tensor")
    if value.is_complex() or not (value.is_floating_point() or value.dtype == torch.bool):
        raise PluginError(f"{what} are {value.dtype}; the contract expects a floating-point tensor")
    if tuple(value.shape) != tuple(images.shape):
        raise PluginError(
            f"{what} have shape {tuple(value.shape)} for images of shape {tuple(images.shape)} (the contract: the same)"
        )
    return value.detach().to("cpu", torch.float32).numpy()[:, 0]


@contextmanager
def plugin_call(what: str, options_of: tuple[str, str, str] | None = None) -> Iterator[None]:
    """Report an exception escaping a plugin as one line, `<what>: <error>`, keeping it as the cause
    (`anobench --debug` prints its traceback); user errors the plugin raised itself pass unchanged,
    but unknown options, with `options_of` (kind, name, flag), name the plugin and the flag."""
    try:
        yield
    except SettingsError as error:
        if options_of is None:
            raise
        raise error.for_plugin(*options_of) from None
    except AnobenchError:
        raise
    except Exception as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise PluginError(f"{what}: {type(error).__name__}" + (f": {first_line}" if first_line else "")) from error
