"""DAE: the algorithm in `method.py`; README.md says what the paper
describes, what the released code does, and the options."""

from anobench.methods.dae.method import DAE, DAEConfig, create

__all__ = ["DAE", "DAEConfig", "create"]
