"""Atomic file writes: write to a temporary file beside the target, flush it to disk, then rename.

A reader therefore sees the previous file or the new one, never a truncated one. A write that
fails (unwritable folder, full disk) raises `OutputError` naming the path and leaves the target as
it was. In a multi-process run only the primary process writes (`dynint.distributed` tells this
module which one it is); the others' writes do nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from dynint.errors import OutputError

_WRITES_FILES = True


def set_writes_files(writes: bool) -> None:
    """Whether this process writes run files (false for the secondary processes of a multi-process run)."""
    global _WRITES_FILES
    _WRITES_FILES = writes


def writes_files() -> bool:
    return _WRITES_FILES


def make_dirs(path: str | Path) -> Path:
    """Create the folder `path` and its parents; an `OutputError` names it when that fails."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        blocking = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        raise OutputError(path, f"{blocking} is a file, not a folder" if blocking else _reason(error)) from None
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    path = Path(path)
    if not _WRITES_FILES:
        return path
    make_dirs(path.parent)
    try:
        handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise OutputError(path, _reason(error)) from None
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())  # so a crash right after the rename cannot leave an empty file
        os.replace(temp_name, path)
    except BaseException as error:
        Path(temp_name).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise OutputError(path, _reason(error)) from None
        raise
    return path


def write_json_atomic(path: str | Path, data: Any) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    """Append one JSON line; a line is written whole by a single `write` call, and a failed write
    is cut off again, so the file never ends in a partial line."""
    path = Path(path)
    if not _WRITES_FILES:
        return
    make_dirs(path.parent)
    data = (json.dumps(record) + "\n").encode()
    try:
        handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as error:
        raise OutputError(path, _reason(error)) from None
    try:
        size = os.fstat(handle).st_size
        try:
            written = 0
            while written < len(data):
                written += os.write(handle, data[written:])
        except OSError as error:
            with contextlib.suppress(OSError):  # a device such as /dev/full cannot be truncated
                os.ftruncate(handle, size)
            raise OutputError(path, _reason(error)) from None
    finally:
        os.close(handle)


def _reason(error: OSError) -> str:
    """`error` without the path it names (the `OutputError` names it), e.g. 'No space left on device'."""
    return error.strerror or str(error)
