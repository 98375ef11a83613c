from dataclasses import dataclass
from typing import Literal

import pytest

from anobench.config import build_config, parse_assignments
from anobench.errors import AnobenchError


@dataclass(frozen=True)
class Example:
    t0: int = 350
    stride: int | None = None
    noise: Literal["gaussian", "simplex"] = "gaussian"
    normalise: bool = False
    steps: tuple[int, ...] = (300, 150, 50)


def test_defaults_and_typed_overrides():
    config = build_config(Example, {"t0": "250", "stride": "none", "normalise": "yes", "steps": "200,100"})
    assert config == Example(t0=250, stride=None, normalise=True, steps=(200, 100))
    assert build_config(Example, {"stride": "5"}).stride == 5


def test_unknown_key_names_the_valid_ones():
    with pytest.raises(AnobenchError, match="unknown setting.*t_0.*valid: noise, normalise, steps, stride, t0"):
        build_config(Example, {"t_0": "1"})


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("t0", "many", "t0 must be an integer"),
        ("stride", "2.5", "stride must be an integer"),
        ("noise", "pink", "noise must be one of gaussian, simplex"),
        ("normalise", "maybe", "normalise must be true or false"),
        ("steps", "300,x", "steps must be a comma-separated list, each an integer"),
    ],
)
def test_bad_values_are_said_in_the_users_words(key, value, message):
    with pytest.raises(AnobenchError, match=f"^setting {key}='{value}': {message}$"):
        build_config(Example, {key: value})


def test_parse_assignments():
    assert parse_assignments(["a=1", " b = x=y "]) == {"a": "1", "b": "x=y"}
    with pytest.raises(AnobenchError, match="key=value"):
        parse_assignments(["novalue"])
