"""Built-in dataset adapters, declared here and registered through anobench's entry points, as a
third-party distribution registers its own (`anobench.datasets:atlas_plugin`, …). Declaring them
imports nothing heavy: an adapter's module is imported when the data set is first opened."""

from anobench.api import DatasetPlugin, deferred

brain_phantom_plugin = DatasetPlugin(
    name="brain-phantom",
    description="Stroke-like lesions on deformed MNI152 slices (offline default, ATLAS-like).",
    open=deferred("anobench.datasets.brain_phantom:open_dataset"),
)
atlas_plugin = DatasetPlugin(
    name="atlas",
    description="ATLAS 2.0 stroke T1 (BIDS NIfTI or the THOR release's PNG + CSV), slice 95, real data.",
    open=deferred("anobench.datasets.atlas:open_dataset"),
)
ixi_plugin = DatasetPlugin(
    name="ixi",
    description="IXI T1 in MNI space (Clinica CAPS t1-linear), healthy; the slice at ATLAS's slice 95.",
    open=deferred("anobench.datasets.ixi:open_dataset"),
)
wrist_plugin = DatasetPlugin(
    name="wrist",
    description="GRAZPEDWRI-DX wrist radiographs with YOLO boxes (real data; box metrics).",
    open=deferred("anobench.datasets.wrist:open_dataset"),
)
wrist_phantom_plugin = DatasetPlugin(
    name="wrist-phantom",
    description="Synthetic wrist radiographs with fractures, metal, periosteal reactions, foreign bodies, swelling (offline default).",
    open=deferred("anobench.datasets.wrist_phantom:open_dataset"),
)
