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

from anobench.errors import AnobenchError, SettingsError

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
                raise ValueError(value)
            return value
    except (ValueError, TypeError, json.JSONDecodeError):
        raise AnobenchError(f"setting {key}={value!r}: {key} must be {_wanted(annotation)}") from None
    return value


def build_config(cls: type[ConfigT], overrides: Mapping[str, Any] | None = None) -> ConfigT:
    """Instantiate dataclass `cls` with `overrides` applied; unknown keys raise AnobenchError."""
    overrides = dict(overrides or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise SettingsError(unknown, sorted(fields))
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


_WANTED = {int: "an integer", float: "a number", bool: "true or false", str: "a text"}


def _wanted(annotation: Any) -> str:
    """What a setting of this type must be, in words: "an integer", "one of a, b"."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return f"one of {', '.join(map(str, args))}"
    if origin in (tuple, list):
        item = _WANTED.get(args[0] if args else str, "a value")
        return f"a comma-separated list, each {item}"
    return _WANTED.get(annotation, _type_text(annotation))


def _type_text(annotation: Any) -> str:
    """A field's type as a user reads it: `a | b` for choices, `int or none`, `list of int`."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(map(str, args))
    if origin in (typing.Union, types.UnionType):
        named = [_type_text(a) for a in args if a is not type(None)]
        return " or ".join(named) + (" or none" if type(None) in args else "")
    if origin in (tuple, list):
        return f"list of {_type_text(args[0]) if args else 'str'}"
    return "true/false" if annotation is bool else getattr(annotation, "__name__", str(annotation))


def _default_text(value: Any) -> str:
    if value is None:
        return "none (chosen at run time)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return str(value)


def describe_settings(cls: type) -> list[tuple[str, str, str, str]]:
    """(name, type, default, meaning) of each setting of dataclass `cls`; the meaning is the comment
    on the field's line in the source, or the comment line right above it (empty where neither is)."""
    import inspect

    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):  # a subclass's comment wins
        if dataclasses.is_dataclass(klass):
            above = ""
            for line in inspect.getsource(klass).splitlines():
                text = line.strip()
                name, colon, rest = text.partition(":")
                if colon and name.isidentifier():
                    comment = rest.split("#", 1)[1].strip() if "#" in rest else above
                    if comment:
                        comments[name] = comment
                above = text[1:].strip() if text.startswith("#") else ""
    hints = typing.get_type_hints(cls)
    default = cls()
    rows = []
    for field in dataclasses.fields(cls):
        value = _default_text(getattr(default, field.name))
        rows.append((field.name, _type_text(hints[field.name]), value, comments.get(field.name, "")))
    return rows
