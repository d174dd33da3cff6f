"""Hyper-parameter search spaces: dotted config keys mapped to the values to try.

A space file is a YAML mapping such as

    model.similarity: [cosine, asymmetric, jaccard]      # choices (grid and random)
    model.shrink: {low: 0, high: 200}                     # uniform range (random only)
    model.recency.half_life: {low: 0.5, high: 20, log: true}
    model.neighbors: {low: 20, high: 1000, log: true, int: true}

or a list of such mappings, a union of spaces whose keys may differ (e.g. recency half-lives
counted in events in one, in seconds in another).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from dynint.config.typed import unknown_key_message
from dynint.errors import ConfigError

_RANGE_KEYS = ("low", "high", "log", "int")


@dataclass(frozen=True)
class Range:
    """Numbers in `[low, high]`, drawn uniformly or (with `log`) log-uniformly; `integer` rounds."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def sample(self, rng: np.random.Generator) -> float | int:
        if self.log:
            value = float(np.exp(rng.uniform(np.log(self.low), np.log(self.high))))
        else:
            value = float(rng.uniform(self.low, self.high))
        if self.integer:
            return int(min(max(round(value), self.low), self.high))
        return float(f"{value:.4g}")  # readable configs; the rounded value is the one tried


@dataclass(frozen=True)
class SearchSpace:
    """A union of subspaces, each mapping keys (in file order) to choices (a list) or a `Range`."""

    subspaces: list[dict[str, list[Any] | Range]]

    @classmethod
    def from_yaml(cls, path: str | Path) -> SearchSpace:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text())
        except FileNotFoundError as error:
            raise ConfigError(f"{path}: search space file not found") from error
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML: {error}") from error
        try:
            return cls.from_raw(raw)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from error

    @classmethod
    def from_raw(cls, raw: Any) -> SearchSpace:
        """From a mapping of dotted keys to values to try, or a non-empty list of such mappings."""
        mappings = raw if isinstance(raw, list) and raw else [raw]
        subspaces = []
        for mapping in mappings:
            if not isinstance(mapping, dict) or not mapping:
                raise ConfigError("a search space is a non-empty mapping of dotted config keys to values to try")
            subspaces.append({str(key): _dimension(str(key), value) for key, value in mapping.items()})
        return cls(subspaces)

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of each subspace's choices (the last key varying fastest), subspace
        after subspace."""
        points = []
        for subspace in self.subspaces:
            ranges = [key for key, values in subspace.items() if isinstance(values, Range)]
            if ranges:
                raise ConfigError(f"grid search needs a list of values for {ranges[0]}; ranges are for random search")
            keys = list(subspace)
            points += [dict(zip(keys, point, strict=True)) for point in itertools.product(*subspace.values())]
        return points

    def sample(self, count: int, seed: int) -> list[dict[str, Any]]:
        """`count` independent draws from one seeded generator (reproducible): a subspace chosen
        uniformly, then each of its keys."""
        rng = np.random.default_rng(seed)
        points = []
        for _ in range(count):
            subspace = self.subspaces[rng.integers(len(self.subspaces))]
            points.append(
                {
                    key: values.sample(rng) if isinstance(values, Range) else values[rng.integers(len(values))]
                    for key, values in subspace.items()
                }
            )
        return points


def _dimension(key: str, value: Any) -> list[Any] | Range:
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{key}: expected at least one value to try")
        return value
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a list of values or a range {{low, high, log, int}}; got {value!r}")
    for name in value:
        if name not in _RANGE_KEYS:
            raise ConfigError(unknown_key_message(f"{key}.{name}", [f"{key}.{k}" for k in _RANGE_KEYS]))
    low, high = value.get("low"), value.get("high")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    if not numbers or not low <= high or (value.get("log") and low <= 0):
        raise ConfigError(f"{key}: expected numbers low <= high (low > 0 with log: true); got {value!r}")
    return Range(float(low), float(high), bool(value.get("log", False)), bool(value.get("int", False)))
