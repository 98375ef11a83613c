"""THOR: the algorithm in `method.py`, its map operations in `maps.py`; README.md says what the paper
describes, what the released code does, and the options."""

from anobench.methods.thor.method import THOR, THORConfig, create

__all__ = ["THOR", "THORConfig", "create"]
