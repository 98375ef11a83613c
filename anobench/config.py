"""Typed configuration: dataclass defaults equal the paper's, overrides are checked by name.

Users override settings as `key=value` strings (`--set t0=250`); values are parsed as the type of
the dataclass field they replace, and an unknown key is an error that lists the valid ones.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, Mapping, TypeVar

from anobench.errors import AnobenchError

ConfigT = TypeVar("ConfigT")


def parse_assignments(assignments: list[str] | None) -> dict[str, str]:
    """Turn ["a=1", "b=x"] into {"a": "1", "b": "x"}."""
    parsed: dict[str, str] = {}
    for item in assignments or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise AnobenchError(f"setting {item!r} is not of the form key=value")
        parsed[key.strip()] = value.strip()
    return parsed


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    if not isinstance(value, str):
        return value
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value.lower() in ("none", "null", "") and type(None) in args:
            return None
        annotation = next(a for a in args if a is not type(None))
        origin = typing.get_origin(annotation)
    try:
        if annotation is bool:
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if annotation in (int, float, str):
            return annotation(value)
        if origin in (tuple, list):
            items = json.loads(value) if value.startswith("[") else [v for v in value.split(",") if v]
            item_type = typing.get_args(annotation)[0] if typing.get_args(annotation) else str
            return origin(item_type(v) for v in items)
        if origin is typing.Literal:
            choices = typing.get_args(annotation)
            if value not in choices:
                raise ValueError(f"choose one of {', '.join(map(str, choices))}")
            return value
    except (ValueError, TypeError, json.JSONDecodeError) as error:
        raise AnobenchError(f"setting {key}={value!r}: {error}") from None
    return value


def build_config(cls: type[ConfigT], overrides: Mapping[str, Any] | None = None) -> ConfigT:
    """Instantiate dataclass `cls` with `overrides` applied; unknown keys raise AnobenchError."""
    overrides = dict(overrides or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise AnobenchError(
            f"unknown setting(s) {', '.join(unknown)} for {cls.__name__}; valid: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    values = {key: _coerce(value, hints[key], key) for key, value in overrides.items()}
    for key, value in values.items():
        low, high = fields[key].metadata.get("range", (None, None))
        if value is not None and ((low is not None and value < low) or (high is not None and value > high)):
            allowed = f"at least {low}" if high is None else f"between {low} and {high}"
            raise AnobenchError(f"setting {key}={overrides[key]!r}: must be {allowed}")
    return cls(**values)


def bounded(default: Any, low: float, high: float | None = None) -> Any:
    """A dataclass field whose overrides must lie in [low, high] (None: no upper bound); None passes."""
    return dataclasses.field(default=default, metadata={"range": (low, high)})


def to_plain(config: Any) -> dict[str, Any]:
    """A dataclass as JSON-ready plain values (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))
