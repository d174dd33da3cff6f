"""Errors dynint raises for bad input and for faults a user can act on: each names the file, line,
config key or folder at fault, and the command line maps it to an exit status (`exit_code`)."""

from __future__ import annotations

from pathlib import Path


class DynintError(Exception):
    """Base class of every error dynint raises for bad input or a fault the user can act on."""

    exit_code = 2


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


class TrainingDiverged(DynintError):
    """A training step produced a non-finite loss or gradient norm (or non-finite parameters), and
    `train.on_nonfinite` says to stop. `record` holds what the run's `result.json` keeps of it."""

    exit_code = 3

    def __init__(self, message: str, *, epoch: int, step: int, quantity: str, checkpoint: str | None):
        self.record = {"epoch": epoch, "step": step, "quantity": quantity, "last_good_checkpoint": checkpoint}
        super().__init__(message)


class RunInUseError(DynintError):
    """Another live process holds the lock of a run folder, a checkpoint folder or a table."""

    exit_code = 4


class OutputError(DynintError, OSError):
    """An output file or folder cannot be written (unwritable path, full disk); names the path."""

    exit_code = 5

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        super().__init__(f"cannot write {self.path}: {reason}")


class CheckpointError(DynintError):
    """No readable checkpoint to resume from; names the checkpoint folder."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM ended a command; the exit status is 128 plus the signal's number, as a
    shell reports a process the signal killed. A subclass of `KeyboardInterrupt`, so that no
    `except Exception` swallows it."""

    def __init__(self, signum: int, message: str):
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(message)


class DynintWarning(UserWarning):
    """Something went wrong and dynint recovered from it (a corrupt checkpoint set aside, skipped lines)."""
