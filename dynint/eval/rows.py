"""Checks and key helpers shared by the ranking protocols and negative sampling."""

from __future__ import annotations

import numpy as np

from dynint.data.splits import EvalSet


def sorted_unique_keys(keys: np.ndarray) -> np.ndarray:
    """`np.unique(keys)` by an explicit sort (numpy's hash-based unique is slow on large int arrays)."""
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def check_eval_set(eval_set: EvalSet, num_items: int) -> None:
    """Targets must be real items `1..num_items`; history items at most `num_items`."""
    bad = np.flatnonzero((eval_set.targets < 1) | (eval_set.targets > num_items))
    if len(bad):
        raise ValueError(f"row {bad[0]} has target {eval_set.targets[bad[0]]}; expected an item id in 1..{num_items}")
    history = eval_set.histories.values
    if len(history) and (history.min() < 0 or history.max() > num_items):
        raise ValueError(f"history item ids must lie in 0..{num_items}; found {history.min()}..{history.max()}")
