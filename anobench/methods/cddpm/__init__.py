"""cDDPM: the algorithm in `method.py`; README.md says what the paper
describes, what the released code does, and the options."""

from anobench.methods.cddpm.method import CDDPM, CDDPMConfig, create

__all__ = ["CDDPM", "CDDPMConfig", "create"]
