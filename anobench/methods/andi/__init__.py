"""ANDi: the algorithm in `method.py`; README.md says what the paper
describes, what the released code does, and the options."""

from anobench.methods.andi.method import ANDi, ANDiConfig, create

__all__ = ["ANDi", "ANDiConfig", "create"]
