"""Errors raised for bad user input: each names the file, line or config key at fault."""

from __future__ import annotations

from pathlib import Path


class DynintError(Exception):
    """Base class of every error dynint raises for bad input."""


class DataFormatError(DynintError, ValueError):
    """A data file does not match its format; names the file and, where known, the line."""

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class ConfigError(DynintError, ValueError):
    """A configuration value or key is invalid; the message names the key."""


class DatasetNotFoundError(DynintError, FileNotFoundError):
    """A registered data set's files are not present and cannot be downloaded."""
