"""anobench: a benchmark of diffusion-model anomaly detectors for medical images."""

__version__ = "0.1.0"
