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
    "lesion_scans": "LesionScansConfig",
    "t2_phantom": "T2PhantomConfig",
}


def _builtin(name: str, module: str, description: str, opener: str = "open_dataset") -> DatasetPlugin:
    settings = deferred_class(f"anobench.datasets.{module}:{SETTINGS[module]}")
    return DatasetPlugin(name, description, deferred(f"anobench.datasets.{module}:{opener}"), settings)


brain_phantom_plugin = _builtin(
    "brain-phantom", "brain_phantom", "Stroke-like lesions on deformed MNI152 slices (offline default, ATLAS-like)."
)
brain_phantom_volumes_plugin = _builtin(
    "brain-phantom-volumes",
    "volume_phantom",
    "Subjects as slabs of MNI152 slices with 3-D stroke-like lesions and brain masks (offline; volume protocol).",
)
brain_phantom_t2_plugin = _builtin(
    "brain-phantom-t2",
    "t2_phantom",
    "T2-like MNI152 slices with bright lesions: tumour (whole tumour), ms or wmh (offline; BraTS/MSLUB/WMH-like).",
)
atlas_plugin = _builtin(
    "atlas", "atlas", "ATLAS 2.0 stroke T1 (BIDS NIfTI or the THOR release's PNG + CSV), slice 95, real data."
)
ixi_plugin = _builtin(
    "ixi", "ixi", "IXI T1 (or T2, PD) in MNI space (Clinica CAPS layout), healthy; the slice at ATLAS's slice 95."
)
brats_plugin = _builtin(
    "brats",
    "lesion_scans",
    "BraTS 2021 gliomas (whole tumour), T2 by default, after `anobench prepare brats` (MNI space); real data.",
    "open_brats",
)
mslub_plugin = _builtin(
    "mslub",
    "lesion_scans",
    "MSLUB multiple-sclerosis lesions (consensus), T2 by default, after `anobench prepare mslub`; real data.",
    "open_mslub",
)
wmh_plugin = _builtin(
    "wmh",
    "lesion_scans",
    "WMH 2017 white-matter hyperintensities (label 2 excluded), FLAIR by default, after `anobench prepare wmh`.",
    "open_wmh",
)
wrist_plugin = _builtin("wrist", "wrist", "GRAZPEDWRI-DX wrist radiographs with YOLO boxes (real data; box metrics).")
wrist_phantom_plugin = _builtin(
    "wrist-phantom",
    "wrist_phantom",
    "Synthetic wrist radiographs with fractures, metal, periosteal reactions, foreign bodies, swelling "
    "(offline default).",
)
