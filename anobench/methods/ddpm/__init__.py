"""DDPM: the algorithm in `method.py`; README.md says what the paper
describes, what the released code does, and the options."""

from anobench.methods.ddpm.method import DDPM, DDPMConfig, create

__all__ = ["DDPM", "DDPMConfig", "create"]
