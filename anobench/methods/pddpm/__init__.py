"""pDDPM: the algorithm in `method.py`; README.md says what the paper
describes, what the released code does, and the options."""

from anobench.methods.pddpm.method import PDDPM, PDDPMConfig, create

__all__ = ["PDDPM", "PDDPMConfig", "create"]
