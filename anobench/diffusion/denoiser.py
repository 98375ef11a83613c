"""The denoiser a method runs: the checkpoint given to the run, else the shipped one (or the user's
trained one) for the data set, noise, preset and training scheme, checked against what the method
needs and configured for the run's precision."""

from __future__ import annotations

from typing import Any

from anobench.api import MethodContext
from anobench.diffusion.checkpoint import default_checkpoint, load_model
from anobench.diffusion.model import DiffusionModel
from anobench.errors import AnobenchError


def load_denoiser(context: MethodContext, noise: str, patched: bool = False) -> tuple[DiffusionModel, dict[str, Any]]:
    """The checkpoint given to the run, else the shipped one for (dataset, noise, preset, scheme).

    `patched`: the method needs a model trained on one noised cell per image with x0 prediction
    (pDDPM); otherwise a whole-image noise-predicting model.
    """
    scheme = "patched" if patched else "full"
    path = context.checkpoint or default_checkpoint(
        context.dataset, noise, context.preset, scheme, context.training_source, context.data_root
    )
    model, provenance = load_model(path, context.device)
    model.configure_inference(context.precision, context.compile)
    if patched and (model.patch_size is None or model.schedule.config.prediction != "sample"):
        raise AnobenchError(
            f"checkpoint {path} was trained on whole images; pDDPM needs a patch-trained x0-predicting "
            f"model (`anobench train --scheme patched`)"
        )
    if not patched and (model.patch_size is not None or model.schedule.config.prediction != "epsilon"):
        raise AnobenchError(
            f"checkpoint {path} was trained with --scheme patched (pDDPM); this method needs a "
            f"whole-image noise-predicting model"
        )
    if model.preset.image_size != context.image_size:
        raise AnobenchError(
            f"checkpoint {path} was trained at {model.preset.image_size}×{model.preset.image_size} "
            f"(preset {model.preset.name!r}); run with --preset {model.preset.name}"
        )
    if model.noise != noise:
        raise AnobenchError(f"checkpoint {path} was trained with {model.noise} noise, not {noise}")
    return model, provenance
