"""Item tables that grow with the catalogue: a model trained on `n` items continued on `m > n`
without retraining, the first `n` rows (and everything else) exactly as they were."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np


def grow_item_rows(trained: Any, grown: Any) -> Any:
    """`trained` (a pytree for the old catalogue: parameters, or optimizer moments) extended to
    the shapes of `grown` (the same pytree for the larger catalogue, freshly initialised; for
    optimizer moments, zeros): a leaf whose shape differs along one axis keeps its trained part
    and takes the rest from `grown`; a leaf of equal shape is `trained`'s."""

    def grow(path: Any, old: Any, new: Any) -> Any:
        old, new = np.asarray(old), np.asarray(new)
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
