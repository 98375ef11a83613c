"""LDM: the algorithm in `method.py`; README.md says what the paper describes, what the released
baseline does, and the options."""

from anobench.methods.ldm.method import LDM, LDMConfig, create

__all__ = ["LDM", "LDMConfig", "create"]
