"""The intensity baseline (Meissen et al., "Challenging current semi-supervised anomaly segmentation
methods for brain MRI", MICCAI BrainLes 2021): no network; the anomaly map is the image itself after
the release's histogram equalisation, so a board shows how far each method is above what intensity
alone gives.

Per slice: the [0, 1] image is taken back to its integer levels (round(x · `levels`), 255 for the
8-bit slices of the phantoms and the released PNG layout), histogram-equalised over its pixels > 0
(scikit-image's `equalize_hist`, 256 bins: the release's call) and zeroed outside them. The released
code evaluates FLAIR, where lesions are bright: the map is the equalised image. For data sets whose
lesions are dark (T1 stroke: ATLAS, IXI T1, the brain phantoms) the map is one minus it, inside the
brain (`contrast`; `auto` takes the data set's `Evaluation.lesion_contrast`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping

import numpy as np
import torch
from skimage.exposure import equalize_hist

from anobench.api import Batch, MethodContext, Prediction
from anobench.config import bounded, build_config, to_plain
from anobench.errors import AnobenchError

BINS = 256  # the release's equalize_hist(nbins=256)


@dataclass(frozen=True)
class IntensityConfig:
    contrast: Literal["auto", "dark", "bright"] = "auto"  # dark or bright lesions; auto: the data set's declaration
    levels: int = bounded(255, 1)  # the integer levels a [0, 1] image came from
    equalize: bool = True  # the release's histogram equalisation (false: the raw image)


def equalized(image: np.ndarray, levels: int) -> np.ndarray:
    """The release's histogram equalisation of one slice: integer levels, histogram of the pixels
    above zero, background kept at zero."""
    foreground = image > 0
    if not foreground.any():
        return np.zeros_like(image)
    integers = np.rint(image * levels).astype(np.int64)
    return (equalize_hist(integers, nbins=BINS, mask=foreground) * foreground).astype(np.float32)


class Intensity:
    def __init__(self, config: IntensityConfig, context: MethodContext) -> None:
        contrast = context.lesion_contrast if config.contrast == "auto" else config.contrast
        if contrast not in ("dark", "bright"):
            raise AnobenchError(
                f"data set {context.dataset!r} does not say whether its lesions are dark or bright: "
                "give --set contrast=dark (T1) or --set contrast=bright (T2, FLAIR)"
            )
        self.config, self.contrast = config, contrast

    def settings(self) -> dict[str, Any]:
        return {**to_plain(self.config), "contrast": self.contrast}

    def predict(self, batch: Batch) -> Prediction:
        images = batch.images.detach().cpu().numpy()
        if self.config.equalize:
            maps = np.stack([equalized(image[0], self.config.levels)[None] for image in images])
        else:
            maps = images.astype(np.float32)
        if self.contrast == "dark":
            maps = (1.0 - maps) * (images > 0)
        return Prediction(torch.from_numpy(np.ascontiguousarray(maps, np.float32)).to(batch.images.device))


def create(options: Mapping[str, str], context: MethodContext) -> Intensity:
    return Intensity(build_config(IntensityConfig, options), context)
