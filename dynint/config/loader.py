"""Load experiment configs from YAML with dotted `key=value` overrides, and dump them back."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from dynint.config.schema import ExperimentConfig
from dynint.config.typed import from_dict
from dynint.errors import ConfigError


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Read a YAML experiment file, apply `key=value` overrides, and validate it."""
    raw = read_raw_config(path)
    try:
        return parse_config(apply_overrides(raw, overrides))
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from error


def read_raw_config(path: str | Path) -> dict[str, Any]:
    """The YAML mapping of an experiment file, not yet validated."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as error:
        raise ConfigError(f"{path}: config file not found") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return raw


def parse_config(raw: dict[str, Any]) -> ExperimentConfig:
    return from_dict(ExperimentConfig, raw)


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of `raw` with each `a.b.c=value` set; values are parsed as YAML scalars/lists."""
    result = _deep_copy(raw)
    for override in overrides:
        key, sep, text = override.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {override!r}: expected key=value with a dotted key, e.g. model.name=poprec")
        try:
            value = yaml.safe_load(text) if text != "" else ""
        except yaml.YAMLError as error:
            raise ConfigError(f"override {override!r}: value is not valid YAML: {error}") from error
        set_dotted(result, key, value)
    return result


def set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set `raw[a][b][c] = value` for `key="a.b.c"`, creating missing sections."""
    node = raw
    parts = key.split(".")
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"key {key!r}: '{'.'.join(parts[: depth + 1])}' is not a section")
        node = child
    node[parts[-1]] = value


def config_to_dict(config: Any) -> dict[str, Any]:
    """Plain dict (tuples as lists) of a config dataclass, for YAML/JSON output."""
    return _plain(dataclasses.asdict(config))


def dump_config(config: Any) -> str:
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
