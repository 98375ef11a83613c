"""AutoDDPM: the algorithm in `method.py`; README.md says what the paper
describes, what the released code does, and the options."""

from anobench.methods.autoddpm.method import AutoDDPM, AutoDDPMConfig, create

__all__ = ["AutoDDPM", "AutoDDPMConfig", "create"]
