"""Checks, key helpers and row batches shared by the ranking protocols, top-k lists and negative sampling."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np
from tqdm.auto import tqdm

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


def row_batches(num_rows: int, batch_size: int, description: str, progress: bool) -> Iterator[np.ndarray]:
    """Row indices in batches, with a progress bar when asked for and stderr is a terminal."""
    show = progress and sys.stderr.isatty()
    for start in tqdm(range(0, num_rows, batch_size), desc=description, unit="batch", disable=not show):
        yield np.arange(start, min(start + batch_size, num_rows))
