"""Build typed dataclasses from plain dicts, failing loudly on unknown keys and wrong types."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable
from typing import Any, Literal

from dynint.errors import ConfigError

POLYMORPHIC = "polymorphic"
"""Field metadata key: a callable `name -> dataclass type`, chosen by the section's `name` key."""


def from_dict(cls: type, data: Any, path: str = "") -> Any:
    """Instantiate dataclass `cls` from `data`; `path` is the dotted key prefix for errors."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path or 'config'}: expected a mapping of keys, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in fields:
            raise ConfigError(unknown_key_message(_join(path, str(key)), [_join(path, name) for name in fields]))
    values = {}
    for name, field in fields.items():
        if name not in data:
            continue
        key = _join(path, name)
        resolver: Callable[[str], type] | None = field.metadata.get(POLYMORPHIC)
        if resolver is not None:
            values[name] = _polymorphic(resolver, data[name], key)
        else:
            values[name] = coerce(hints[name], data[name], key)
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{path or 'config'}: {error}") from error


def _polymorphic(resolver: Callable[[str], type], data: Any, path: str) -> Any:
    if not isinstance(data, dict) or "name" not in data:
        raise ConfigError(f"{path}: expected a mapping with a 'name' key")
    try:
        cls = resolver(data["name"])
    except KeyError as error:
        raise ConfigError(f"{path}.name: {error.args[0]}") from error
    return from_dict(cls, data, path)


def coerce(hint: Any, value: Any, path: str) -> Any:
    """Check `value` against the type `hint`, converting where lossless (int -> float, list -> tuple)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return coerce(option, value, path)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{path}: {value!r} matches none of {hint}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{path}: {value!r} is not one of {', '.join(repr(a) for a in args)}")
        return value
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, path)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        item_hint = args[0] if args else Any
        items = [coerce(item_hint, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{path}: unsupported config type {hint}")


def unknown_key_message(key: str, valid_keys: list[str]) -> str:
    nearest = difflib.get_close_matches(key, valid_keys, n=1, cutoff=0.5)
    hint = f"did you mean '{nearest[0]}'?" if nearest else f"valid keys: {', '.join(sorted(valid_keys))}"
    return f"unknown config key '{key}'; {hint}"


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
