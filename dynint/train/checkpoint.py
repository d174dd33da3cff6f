"""Latest and best training checkpoints with orbax, each saved atomically.

A checkpoint holds the `TrainState` (parameters, optimizer state, step and random key) and a
JSON record of the loop's progress (epochs done, early-stopping state, per-epoch log). Orbax
writes each save to a temporary folder and renames it when complete, and the previous save is
deleted only after that, so an interrupted save leaves the previous checkpoint intact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp


class CheckpointSlot:
    """One kept checkpoint (the newest save wins) in `directory`, versioned by epoch."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(max_to_keep=1, enable_async_checkpointing=False, create=True)
        self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "progress"))

    def save(self, epoch: int, state: Any, progress: dict[str, Any]) -> None:
        """Save `state` as of `epoch`. An existing save of the same epoch is kept: it was completed
        (saves are atomic) by a run that was interrupted and is now being resumed, so it is the same."""
        if self._manager.latest_step() == epoch:
            return
        self._manager.save(
            epoch,
            args=ocp.args.Composite(state=ocp.args.StandardSave(state), progress=ocp.args.JsonSave(progress)),
        )
        self._manager.wait_until_finished()

    def latest_epoch(self) -> int | None:
        return self._manager.latest_step()

    def restore(self, like: Any) -> tuple[Any, dict[str, Any]] | None:
        """The saved (state, progress), the state with `like`'s structure and shardings; None if nothing is saved."""
        epoch = self._manager.latest_step()
        if epoch is None:
            return None
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        restored = self._manager.restore(
            epoch, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract), progress=ocp.args.JsonRestore())
        )
        return restored["state"], restored["progress"]

    def close(self) -> None:
        self._manager.close()


class Checkpoints:
    """`latest/` (after every epoch, for resuming) and `best/` (the best validation epoch, for testing)."""

    def __init__(self, directory: str | Path):
        self.latest = CheckpointSlot(Path(directory) / "latest")
        self.best = CheckpointSlot(Path(directory) / "best")

    def close(self) -> None:
        self.latest.close()
        self.best.close()
