"""Advisory locks that keep two processes from writing one run folder, checkpoint folder or table.

A lock is `flock` on a small file that names its holder's process id. The kernel drops the lock
when the holder exits, however it exits, so a dead holder never keeps it. Taking a lock never
waits: a second process fails at once with a `RunInUseError` that names the folder and the holder.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from types import TracebackType

from dynint.errors import OutputError, RunInUseError
from dynint.io import make_dirs

_ATTEMPTS = 5


class RunLock:
    """An exclusive lock on the file `path`, held from `acquire()` (or `with`) to `release()`.

    `what` names the locked thing in the error (e.g. "run folder runs/x/seed0"). On release the
    lock file is removed, and so are the folders `acquire` created for it, if they are empty.
    """

    def __init__(self, path: str | Path, what: str):
        self.path = Path(path)
        self.what = what
        self._handle: int | None = None
        self._created: list[Path] = []

    def acquire(self) -> RunLock:
        self._created = _missing_folders(self.path.parent)
        make_dirs(self.path.parent)
        for _ in range(_ATTEMPTS):
            try:
                handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as error:
                raise OutputError(self.path, error.strerror or str(error)) from None
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(handle)
                os.close(handle)
                raise RunInUseError(
                    f"{self.what} is in use by {holder} (lock file {self.path}); wait for it to finish or stop it"
                ) from None
            if _same_file(handle, self.path):
                self._handle = handle
                try:
                    os.ftruncate(handle, 0)
                    os.write(handle, f"{os.getpid()} {socket.gethostname()}\n".encode())
                except OSError as error:  # held but unnamed: let go rather than keep a lock nobody releases
                    self.release()
                    raise OutputError(self.path, error.strerror or str(error)) from None
                return self
            os.close(handle)  # the holder removed the file while we opened it: lock the new one
        raise RunInUseError(f"{self.what}: its lock file {self.path} keeps being replaced by other processes")

    def release(self) -> None:
        if self._handle is None:
            return
        self.path.unlink(missing_ok=True)  # before unlocking, so no one locks the file we remove
        os.close(self._handle)
        self._handle = None
        for folder in reversed(self._created):
            try:
                folder.rmdir()
            except OSError:  # not empty (the run wrote its files there), or already gone
                break

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()


def _holder(handle: int) -> str:
    """The holder as its lock file names it, e.g. 'process 1234 on host-a'."""
    try:
        fields = os.pread(handle, 256, 0).decode(errors="replace").split()
    except OSError:
        fields = []
    if not fields:
        return "another process"
    return f"process {fields[0]}" + (f" on {fields[1]}" if len(fields) > 1 else "")


def _same_file(handle: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(handle), os.stat(path))
    except FileNotFoundError:
        return False


def _missing_folders(folder: Path) -> list[Path]:
    """The folders from the outermost missing ancestor of `folder` down to `folder` itself."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing[::-1]
