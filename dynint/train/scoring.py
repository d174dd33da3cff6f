"""A trained sequence model as an evaluation `Scorer`.

Each history is encoded once: its last `max_length` items (for a cloze model, the last
`max_length - 1` and a mask token) are left-aligned in the shortest length bucket that holds
them, and the hidden state at the last real position is scored against the item table.
Calls use a few static shapes (bucket length x a power-of-two row count), so a row's score
does not depend on which other rows share its batch, up to float rounding.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from dynint.data.ragged import Ragged
from dynint.models.base import ClozeObjective, Objective
from dynint.train.windows import last_items, left_aligned

_MIN_ROWS = 8


def query_windows(histories: Ragged, objective: Objective, max_length: int) -> Ragged:
    """The model input of each history: its last items, plus a trailing mask token for a cloze model."""
    if isinstance(objective, ClozeObjective):
        kept = last_items(histories, max_length - 1)
        lengths = kept.lengths + 1
        values = np.full(int(lengths.sum()), objective.mask_token, dtype=kept.values.dtype)
        own = np.ones(len(values), dtype=bool)
        own[np.cumsum(lengths) - 1] = False
        values[own] = kept.values
        return Ragged.from_lengths(values, lengths)
    return last_items(histories, max_length)


class SequenceScorer:
    """Scores items for histories with a model's hidden state at the last history position."""

    def __init__(
        self,
        graphdef: Any,
        params: Any,
        objective: Objective,
        *,
        max_length: int,
        buckets: tuple[int, ...],
        rows_per_call: int = 1024,
    ):
        self.params = params
        self.objective = objective
        self.max_length = max_length
        self.buckets = buckets
        self.rows_per_call = rows_per_call
        self._encode = jax.jit(partial(_encode_last, graphdef))
        self.table = jax.jit(lambda p: nnx.merge(graphdef, p).output_table())(params)

    def representations(self, histories: Ragged) -> jax.Array:
        """`(len(histories), d)` hidden states, one per history."""
        windows = query_windows(histories, self.objective, self.max_length)
        bucket_of = np.searchsorted(np.asarray(self.buckets), windows.lengths)
        pieces, order = [], []
        for b, length in enumerate(self.buckets):
            rows = np.flatnonzero(bucket_of == b)
            for start in range(0, len(rows), self.rows_per_call):
                chunk = rows[start : start + self.rows_per_call]
                size = min(self.rows_per_call, max(_MIN_ROWS, 1 << (len(chunk) - 1).bit_length()))
                selected = windows.take(chunk)
                inputs = left_aligned(selected, length, size)
                last = np.zeros(size, dtype=np.int32)
                last[: len(chunk)] = np.maximum(selected.lengths - 1, 0)
                pieces.append(self._encode(self.params, inputs, last)[: len(chunk)])
                order.append(chunk)
        if not pieces:
            return jnp.zeros((0, self.table.shape[1]), self.table.dtype)
        inverse = np.empty(len(histories), dtype=np.int64)
        inverse[np.concatenate(order)] = np.arange(len(histories))
        return jnp.concatenate(pieces)[inverse]

    def score(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        return np.asarray(_dot_scores(self.representations(histories), self.table, jnp.asarray(items)))


def _encode_last(graphdef: Any, params: Any, inputs: jax.Array, last: jax.Array) -> jax.Array:
    hidden = nnx.merge(graphdef, params)(inputs)
    return hidden[jnp.arange(hidden.shape[0]), last]


@jax.jit
def _dot_scores(representations: jax.Array, table: jax.Array, items: jax.Array) -> jax.Array:
    return representations @ table[items].T

