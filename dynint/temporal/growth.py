"""Item tables that grow with the catalogue: a model trained on `n` items continued on `m > n`
without retraining, the first `n` rows (and everything else) exactly as they were.

A streaming model allocates its table in blocks (`temporal.item_capacity_step`): a catalogue of
`n` items gets `capacity(n)` rows, those past `n` reserved (masked out of the loss and the
ranking, so they keep their initial values). New items within the block only change the
catalogue size the loss and the scorer are given, not a shape, and the compiled train step is
reused; a catalogue outgrowing its block grows the table to the next one."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from dynint.models.item_representation import is_frozen


def grow_item_rows(trained: Any, grown: Any) -> Any:
    """`trained` (a pytree for the old catalogue: parameters, or optimizer moments) extended to
    the shapes of `grown` (the same pytree for the larger catalogue, freshly initialised; for
    optimizer moments, zeros): a leaf whose shape differs along one axis keeps its trained part
    and takes the rest from `grown`; a leaf of equal shape is `trained`'s. Frozen item content
    (`frozen_*` leaves, never trained) is always `grown`'s: it may hold the new items' rows."""

    def grow(path: Any, old: Any, new: Any) -> Any:
        old, new = np.asarray(old), np.asarray(new)
        if any(is_frozen(str(getattr(entry, "key", ""))) for entry in path):
            return new
        if old.shape == new.shape:
            return old
        differ = [axis for axis, (a, b) in enumerate(zip(old.shape, new.shape, strict=False)) if a != b]
        name = jax.tree_util.keystr(path)
        if old.ndim != new.ndim or len(differ) != 1 or old.shape[differ[0]] > new.shape[differ[0]]:
            raise ValueError(
                f"cannot grow {name} from shape {old.shape} to {new.shape}: expected one axis (the items) to grow"
            )
        axis = differ[0]
        extra = np.take(new, np.arange(old.shape[axis], new.shape[axis]), axis=axis)
        return np.concatenate([old, extra.astype(old.dtype)], axis=axis)

    return jax.tree_util.tree_map_with_path(grow, trained, grown)


def item_capacity(num_items: int, step: int) -> int:
    """Rows (besides padding) a table for `num_items` items allocates in blocks of `step`; 0: exactly `num_items`."""
    if step < 0:
        raise ValueError(f"item capacity step {step}: expected 0 or a positive number of rows")
    return num_items if step == 0 else step * -(-num_items // step)
