"""The intensity baseline: the algorithm in `method.py`; README.md says what the paper describes,
what the released code does, and the options."""

from anobench.methods.intensity.method import Intensity, IntensityConfig, create

__all__ = ["Intensity", "IntensityConfig", "create"]
