"""Built-in methods, declared here and registered through anobench's entry points, as a third-party
distribution registers its own (`anobench.methods:thor_plugin`, …). Declaring them imports nothing
heavy: each method's module (and torch) is imported when the method is first created."""

from anobench.api import MethodPlugin, deferred

ddpm_plugin = MethodPlugin(
    name="ddpm",
    description="Partial-diffusion reconstruction, Gaussian noise to T0=350, residual map.",
    create=deferred("anobench.methods.ddpm:create"),
)
thor_plugin = MethodPlugin(
    name="thor",
    description="THOR (MICCAI 2024): implicitly guided partial diffusion, harmonic-mean map.",
    create=deferred("anobench.methods.thor:create"),
)
anoddpm_plugin = MethodPlugin(
    name="anoddpm",
    description="AnoDDPM (CVPRW 2022): simplex-noise partial diffusion, T0=250 (THOR-paper protocol).",
    create=deferred("anobench.methods.anoddpm:create"),
)
autoddpm_plugin = MethodPlugin(
    name="autoddpm",
    description="AutoDDPM (ICML-W 2023): coarse DDPM, calibrated mask, RePaint re-sampling.",
    create=deferred("anobench.methods.autoddpm:create"),
)
pddpm_plugin = MethodPlugin(
    name="pddpm",
    description="pDDPM (MIDL 2023): one noised cell at a time, x0 prediction, stitched (t=499, simplex 2-D).",
    create=deferred("anobench.methods.pddpm:create"),
)
