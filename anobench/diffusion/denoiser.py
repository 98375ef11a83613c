"""The denoiser a method runs: the checkpoint given to the run, else the shipped one (or the user's
trained one) for the data set it trains on (the run's, or the one its training split names:
`brain-phantom-volumes` runs `brain-phantom`'s denoisers), noise, preset and training scheme,
checked against what the method needs and configured for the run's precision."""

from __future__ import annotations

from typing import Any

from anobench.api import MethodContext
from anobench.diffusion.checkpoint import checkpoint_name, default_checkpoint, load_model, suggested_train_command
from anobench.diffusion.model import DiffusionModel
from anobench.errors import AnobenchError
from anobench.paths import user_checkpoints

SCHEME_NEEDS = {
    "full": "a whole-image noise-predicting model (`anobench train`)",
    "patched": "a patch-trained x0-predicting model (`anobench train --scheme patched`)",
    "dae": "a denoising autoencoder (`anobench train --scheme dae --noise coarse`)",
    "conditioned": "a model conditioned on the clean image (`anobench train --scheme conditioned`)",
    "latent": "a latent diffusion model with its VQ-VAE (`anobench train --scheme latent`)",
}


def load_denoiser(context: MethodContext, noise: str, scheme: str = "full") -> tuple[DiffusionModel, dict[str, Any]]:
    """The checkpoint given to the run, else the shipped one for (dataset, noise, preset, `scheme`),
    refused unless it was trained with that scheme (`SCHEME_NEEDS`) and noise at the run's size."""
    source = context.training_source
    trained_on = source.partition(":")[0] if source else context.dataset
    path = context.checkpoint or default_checkpoint(
        trained_on, noise, context.preset, scheme, source, context.data_root, context.modality, context.training_options
    )
    model, provenance = load_model(path, context.device)
    trained_modality = provenance["training"].get("modality")  # None in checkpoints made before it was recorded
    if trained_modality is not None and context.modality is not None and trained_modality != context.modality:
        command = suggested_train_command(
            source or context.dataset,
            context.data_root,
            noise,
            context.preset,
            scheme,
            user_checkpoints() / f"{checkpoint_name(trained_on, noise, context.preset, scheme, context.modality)}.pt",
            context.training_options,
        )
        raise AnobenchError(
            f"checkpoint {path} was trained on {trained_modality} images and {context.dataset} here has "
            f"{context.modality} images; train one on {context.modality} images with `{command}`"
        )
    model.configure_inference(context.precision, context.compile)
    if model.training_scheme != scheme:
        raise AnobenchError(
            f"checkpoint {path} was trained with --scheme {model.training_scheme}; this method needs "
            f"{SCHEME_NEEDS[scheme]}"
        )
    if model.preset.image_size != context.image_size:
        raise AnobenchError(
            f"checkpoint {path} was trained at {model.preset.image_size}×{model.preset.image_size} "
            f"(preset {model.preset.name!r}); run with --preset {model.preset.name}"
        )
    if model.noise != noise:
        raise AnobenchError(f"checkpoint {path} was trained with {model.noise} noise, not {noise}")
    return model, provenance
