"""Latest and best training checkpoints with orbax, each saved atomically and verified on restore.

A checkpoint holds the `TrainState` (parameters, optimizer state, step and random key) and a
JSON record of the loop's progress (epochs done, early-stopping state, per-epoch log, and for a
save within an epoch, the position in it). Checkpoints are numbered by training step. Orbax
writes each save to a temporary folder and renames it when complete, and each slot keeps the
two newest saves. After a save, a manifest of the sizes and SHA-256 digests of its files is
written beside them; a restore checks it, so a truncated or altered file is never read back as
valid. A damaged newest save is set aside with a warning and the one before it restored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from dynint.distributed.runtime import barrier
from dynint.errors import CheckpointError, DynintWarning, OutputError
from dynint.io import write_json_atomic

MANIFEST = "dynint_manifest.json"
KEPT = 2


class CheckpointSlot:
    """The newest checkpoints (the last `KEPT` saves) in `directory`, numbered by step."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(
            max_to_keep=KEPT, enable_async_checkpointing=False, create=True, cleanup_tmp_directories=True
        )
        try:
            self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "progress"))
        except OSError as error:
            raise OutputError(self.directory, error.strerror or str(error)) from None

    def save(self, step: int, state: Any, progress: dict[str, Any]) -> None:
        """Save `state` as of `step`. An existing save of the same step is kept: it was completed
        (saves are atomic) by a run that was interrupted and is now being resumed, so it is the same."""
        if step in self._manager.all_steps():
            return
        try:
            with _orbax_errors_unlogged():
                self._manager.save(
                    step,
                    args=ocp.args.Composite(state=ocp.args.StandardSave(state), progress=ocp.args.JsonSave(progress)),
                )
                self._manager.wait_until_finished()
        except Exception as error:  # orbax and tensorstore raise their own types for a failed write
            _remove_partial_saves(self.directory, step)
            reason = _write_failure(error)
            raise OutputError(self.directory / str(step), f"saving the checkpoint failed ({reason})") from error
        try:
            write_json_atomic(self.directory / str(step) / MANIFEST, _manifest(self.directory / str(step)))
        except OutputError:
            self._manager.delete(step)  # a save that cannot be verified is not kept; the one before it is
            raise
        # Several processes: none goes on (to a later save that may prune this folder) while process 0 writes it.
        barrier(f"checkpoint manifest {self.directory} {step}")

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def restore(self, like: Any, step: int | None = None) -> tuple[Any, dict[str, Any], int] | None:
        """The saved (state, progress, step), the state with `like`'s structure and shardings; None
        if nothing is saved. Without `step`, the newest intact save: one whose files differ from
        its manifest is moved aside (to `DIRECTORY-unreadable-STEP`) with a `DynintWarning`, and
        the one before it is tried. A given `step` must be intact. An intact save that orbax cannot
        restore into `like` (another model, say) is an error, and nothing is moved."""
        steps = [step] if step is not None else sorted(self._manager.all_steps(), reverse=True)
        if not steps:
            return None
        damaged = []
        for candidate in steps:
            folder = self.directory / str(candidate)
            try:
                _verify(folder)
            except ValueError as error:
                damaged.append(f"step {candidate}: {error}")
                if step is None:
                    aside = self._set_aside(candidate)
                    warnings.warn(
                        f"checkpoint {folder} is damaged ({error}); moved it to {aside} and resuming from the save "
                        "before it",
                        DynintWarning,
                        stacklevel=2,
                    )
                    continue
                break
            try:
                restored = self._restore(candidate, like)
            except Exception as error:  # orbax raises its own types for a save it cannot read into `like`
                raise CheckpointError(f"checkpoint {folder} cannot be restored into this run: {error}") from error
            return restored["state"], restored["progress"], candidate
        raise CheckpointError(
            f"no intact checkpoint in {self.directory} ({'; '.join(damaged)}); start the run afresh (without resume)"
        )

    def close(self) -> None:
        self._manager.close()

    def _restore(self, step: int, like: Any) -> Any:
        """The save of `step` read into `like`'s shapes and shardings (orbax reshards it onto
        `like`'s mesh). A save from another mesh may hold its item tables with other padding
        rows (`model.items.table_rows_multiple`); only then do shapes differ, and the zero
        padding rows are added or dropped. (The loop then checks that the run's settings, and
        so its real item count, are the saved run's.)"""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)

        def read(strict: bool) -> Any:
            state = ocp.args.StandardRestore(abstract, strict=strict)
            return self._manager.restore(step, args=ocp.args.Composite(state=state, progress=ocp.args.JsonRestore()))

        try:
            return read(strict=True)
        except ValueError as error:
            if "not compatible with the stored shape" not in str(error):
                raise
            return read(strict=False)

    def _set_aside(self, step: int) -> Path:
        """Move the save of `step` out of orbax's sight, keeping it for inspection."""
        aside = self.directory.with_name(f"{self.directory.name}-unreadable-{step}")
        shutil.rmtree(aside, ignore_errors=True)
        (self.directory / str(step)).rename(aside)
        self._manager.reload()
        return aside


class Checkpoints:
    """`latest/` (after every epoch and within epochs, for resuming) and `best/` (the best
    validation epoch, for testing)."""

    def __init__(self, directory: str | Path):
        self.latest = CheckpointSlot(Path(directory) / "latest")
        self.best = CheckpointSlot(Path(directory) / "best")

    def close(self) -> None:
        self.latest.close()
        self.best.close()


@contextmanager
def _orbax_errors_unlogged() -> Iterator[None]:
    """Orbax logs a failed write with tracebacks from its threads before it raises; the raised
    error, reported once as an `OutputError`, is enough."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _remove_partial_saves(directory: Path, step: int, settle_seconds: float = 2.0) -> None:
    """Remove the pieces of a save of `step` that was never finalized. Tensorstore's writer threads may still
    finish a write after the failure surfaced (recreating a folder just removed), so removal repeats until the
    folder has stayed gone for a few checks or `settle_seconds` have passed."""
    deadline = time.monotonic() + settle_seconds
    quiet_checks = 0
    while quiet_checks < 3 and time.monotonic() < deadline:
        partials = list(directory.glob(f"{step}.orbax-checkpoint-tmp*"))
        for partial in partials:
            shutil.rmtree(partial, ignore_errors=True)
        quiet_checks = 0 if partials else quiet_checks + 1
        time.sleep(0.05)


def _write_failure(error: Exception) -> str:
    """The operating system's reason for a failed save (e.g. 'No space left on device'), whether
    Python raised it (an `OSError`, possibly wrapped) or tensorstore did (its own message), else the message."""
    cause: BaseException | None = error
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    message = str(error)
    found = re.search(r":\s*([^:\[]+?)\s*\[os_error_code", message) or re.search(r"\[Errno \d+\]\s*([^()\]]+)", message)
    return found.group(1).strip() if found else message


def _manifest(folder: Path) -> dict[str, Any]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
    return {"files": {str(p.relative_to(folder)): [p.stat().st_size, _sha256(p)] for p in files}}


def _verify(folder: Path) -> None:
    """Raise if a file of the save in `folder` differs from its manifest (a save written before
    manifests existed has none, and is left to orbax to read)."""
    path = folder / MANIFEST
    if not path.exists():
        return
    try:
        expected = json.loads(path.read_text())["files"]
    except (ValueError, KeyError) as error:
        raise ValueError(f"its manifest {path} is unreadable ({error})") from None
    for name, (size, digest) in expected.items():
        file = folder / name
        if not file.is_file():
            raise ValueError(f"{file} is missing")
        if file.stat().st_size != size or _sha256(file) != digest:
            raise ValueError(f"{file} does not match the digest saved with it (truncated or altered)")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
