"""AnoDDPM: the algorithm in `method.py`; README.md says what the paper
describes, what the released code does, and the options."""

from anobench.methods.anoddpm.method import AnoDDPM, AnoDDPMConfig, create

__all__ = ["AnoDDPM", "AnoDDPMConfig", "create"]
