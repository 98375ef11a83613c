"""Built-in methods, declared here and registered through anobench's entry points, as a third-party
distribution registers its own (`anobench.methods:thor_plugin`, …). Declaring them imports nothing
heavy: each method's module (and torch) is imported when the method is first created."""

from anobench.api import MethodPlugin, deferred, deferred_class

SETTINGS = {
    "ddpm": "DDPMConfig",
    "thor": "THORConfig",
    "anoddpm": "AnoDDPMConfig",
    "autoddpm": "AutoDDPMConfig",
    "pddpm": "PDDPMConfig",
    "dae": "DAEConfig",
    "andi": "ANDiConfig",
    "cddpm": "CDDPMConfig",
    "ldm": "LDMConfig",
    "intensity": "IntensityConfig",
}


def _builtin(name: str, module: str, description: str) -> MethodPlugin:
    settings = deferred_class(f"anobench.methods.{module}.method:{SETTINGS[module]}")
    return MethodPlugin(name, description, deferred(f"anobench.methods.{module}:create"), settings)


ddpm_plugin = _builtin("ddpm", "ddpm", "Partial-diffusion reconstruction, Gaussian noise to T0=350, residual map.")
thor_plugin = _builtin("thor", "thor", "THOR (MICCAI 2024): implicitly guided partial diffusion, harmonic-mean map.")
anoddpm_plugin = _builtin(
    "anoddpm", "anoddpm", "AnoDDPM (CVPRW 2022): simplex-noise partial diffusion, T0=250 (THOR-paper protocol)."
)
autoddpm_plugin = _builtin(
    "autoddpm", "autoddpm", "AutoDDPM (ICML-W 2023): coarse DDPM, calibrated mask, RePaint re-sampling."
)
pddpm_plugin = _builtin(
    "pddpm", "pddpm", "pDDPM (MIDL 2023): one noised cell at a time, x0 prediction, stitched (t=499, simplex 2-D)."
)
dae_plugin = _builtin(
    "dae", "dae", "DAE (MIDL 2022): denoising autoencoder on coarse noise, one call, filtered residual map."
)
andi_plugin = _builtin("andi", "andi", "ANDi (2023/24): pyramid-noise DDPM, step deviations t=75..199, geometric mean.")
cddpm_plugin = _builtin(
    "cddpm", "cddpm", "cDDPM (CBM 2025): x0 predicted given the clean image's encoding, ensemble t=250/500/750."
)
ldm_plugin = _builtin(
    "ldm", "ldm", "LDM (2022): a VQ-VAE's latents noised to t=300, 300 ancestral steps back, decoded."
)
intensity_plugin = _builtin(
    "intensity",
    "intensity",
    "Intensity baseline (BrainLes 2021): no network, the histogram-equalised image is the map.",
)
