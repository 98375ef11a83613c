"""Built-in dataset adapters, declared here and registered through anobench's entry points, as a
third-party distribution registers its own (`anobench.datasets:atlas_plugin`, …). Declaring them
imports nothing heavy: an adapter's module is imported when the data set is first opened."""

from anobench.api import DatasetPlugin, deferred, deferred_class

SETTINGS = {
    "brain_phantom": "PhantomConfig",
    "volume_phantom": "VolumePhantomConfig",
    "atlas": "AtlasConfig",
    "ixi": "IXIConfig",
    "wrist": "WristOptions",
    "wrist_phantom": "WristPhantomConfig",
}


def _builtin(name: str, module: str, description: str) -> DatasetPlugin:
    settings = deferred_class(f"anobench.datasets.{module}:{SETTINGS[module]}")
    return DatasetPlugin(name, description, deferred(f"anobench.datasets.{module}:open_dataset"), settings)


brain_phantom_plugin = _builtin(
    "brain-phantom", "brain_phantom", "Stroke-like lesions on deformed MNI152 slices (offline default, ATLAS-like)."
)
brain_phantom_volumes_plugin = _builtin(
    "brain-phantom-volumes",
    "volume_phantom",
    "Subjects as slabs of MNI152 slices with 3-D stroke-like lesions and brain masks (offline; volume protocol).",
)
atlas_plugin = _builtin(
    "atlas", "atlas", "ATLAS 2.0 stroke T1 (BIDS NIfTI or the THOR release's PNG + CSV), slice 95, real data."
)
ixi_plugin = _builtin(
    "ixi", "ixi", "IXI T1 in MNI space (Clinica CAPS t1-linear), healthy; the slice at ATLAS's slice 95."
)
wrist_plugin = _builtin("wrist", "wrist", "GRAZPEDWRI-DX wrist radiographs with YOLO boxes (real data; box metrics).")
wrist_phantom_plugin = _builtin(
    "wrist-phantom",
    "wrist_phantom",
    "Synthetic wrist radiographs with fractures, metal, periosteal reactions, foreign bodies, swelling "
    "(offline default).",
)
