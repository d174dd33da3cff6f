"""A trained sequence model as an evaluation `Scorer`.

Each history is encoded once: its last `max_length` items (for a cloze model, the last
`max_length - 1` and a mask token) are left-aligned in the shortest length bucket that holds
them, and the hidden state at the last real position is scored against the item table.
Encoder calls have a few static shapes (bucket length x a power-of-two row count), and a row's
representation does not depend on which rows share its call, up to float rounding.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from dynint.data.ragged import Ragged
from dynint.models.base import ClozeObjective, Objective
from dynint.train.windows import last_items, left_aligned

if TYPE_CHECKING:
    from dynint.train.config import TrainConfig

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
    """Scores items for histories with a model's hidden state at the last history position.

    `precompute(users, histories)` encodes a whole evaluation set up front in full, length-sorted
    batches; `score` then reuses a row's representation when its user and query window match.
    With `num_items`, only the table's rows `0..num_items` are items (the rest: reserved capacity
    of a growing catalogue, never scored).
    """

    def __init__(
        self,
        graphdef: Any,
        params: Any,
        objective: Objective,
        *,
        max_length: int,
        buckets: tuple[int, ...],
        rows_per_call: int = 512,
        num_items: int | None = None,
    ):
        self.graphdef = graphdef
        self.params = params
        self.objective = objective
        self.max_length = max_length
        self.buckets = buckets
        self.rows_per_call = rows_per_call
        self.table = _output_table(graphdef, params)
        if num_items is not None:
            if not 0 < num_items < self.table.shape[0]:
                rows = self.table.shape[0] - 1
                raise ValueError(f"num_items={num_items}: the item table has rows for items 1..{rows}")
            self.table = self.table[: num_items + 1]
        # `(d, V + 1)`: on CPU, products against this layout run faster than against `table.T`.
        self._table_by_column = jnp.asarray(np.ascontiguousarray(np.asarray(self.table).T))
        self._cache: tuple[np.ndarray, Ragged, np.ndarray] | None = None

    @classmethod
    def for_training(
        cls, graphdef: Any, params: Any, objective: Objective, train: TrainConfig, num_items: int | None = None
    ) -> SequenceScorer:
        """The scorer of a model trained under `train` (its lengths, buckets and evaluation batch)."""
        return cls(
            graphdef,
            params,
            objective,
            max_length=train.max_length,
            buckets=train.buckets,
            rows_per_call=train.eval_batch_size,
            num_items=num_items,
        )

    def encode(self, histories: Ragged) -> np.ndarray:
        """`(len(histories), d)` representations, one per history (kept on the host: they are
        small, and numpy indexing them costs no dispatch of device operations)."""
        return self._encode_windows(query_windows(histories, self.objective, self.max_length))

    def precompute(self, users: np.ndarray, histories: Ragged) -> None:
        windows = query_windows(histories, self.objective, self.max_length)
        row_of_user = np.full(int(users.max(initial=-1)) + 1, -1, dtype=np.int64)
        row_of_user[users] = np.arange(len(users))
        self._cache = (row_of_user, windows, self._encode_windows(windows))

    def score(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        return np.asarray(_dot_scores(self._representations(users, histories), self.table, jnp.asarray(items)))

    def full_ranks(
        self,
        users: np.ndarray,
        histories: Ragged,
        targets: np.ndarray,
        excluded_rows: np.ndarray,
        excluded_items: np.ndarray,
    ) -> np.ndarray:
        """Full ranking ranks (see `dynint.eval.scorer`) computed next to the scores, so the
        `(B, V)` score matrix never leaves the device. The excluded pairs are padded to a power of
        two, which keeps the number of compiled shapes small."""
        size = max(_MIN_ROWS, 1 << max(len(excluded_rows) - 1, 0).bit_length())
        rows = np.zeros(size, dtype=np.int32)
        items = np.zeros(size, dtype=np.int32)  # item 0 is never a candidate: padding pairs count nothing
        rows[: len(excluded_rows)] = excluded_rows
        items[: len(excluded_items)] = excluded_items
        representations = self._representations(users, histories)
        ranks, non_finite = _ranks_against_table(
            representations, self._table_by_column, jnp.asarray(targets), rows, items
        )
        if int(non_finite):
            raise ValueError(
                f"{type(self).__name__}: {int(non_finite)} non-finite values in the representations or item table"
            )
        return np.asarray(ranks)

    def _representations(self, users: np.ndarray, histories: Ragged) -> np.ndarray:
        if self._cache is None:
            return self.encode(histories)
        row_of_user, cached_windows, cached = self._cache
        windows = query_windows(histories, self.objective, self.max_length)
        users = np.asarray(users)
        known = users < len(row_of_user)
        rows = np.full(len(users), -1, dtype=np.int64)
        rows[known] = row_of_user[users[known]]
        reusable = rows >= 0
        found = np.flatnonzero(reusable)
        reusable[found] = _equal_rows(windows.take(found), cached_windows.take(rows[found]))
        representations = cached[np.maximum(rows, 0)]
        missing = np.flatnonzero(~reusable)
        if len(missing):
            representations[missing] = self._encode_windows(windows.take(missing))
        return representations

    def _encode_windows(self, windows: Ragged) -> np.ndarray:
        bucket_of = np.searchsorted(np.asarray(self.buckets), windows.lengths)
        pieces, order = [], []
        for b, length in enumerate(self.buckets):
            rows = np.flatnonzero(bucket_of == b)
            for start in range(0, len(rows), self.rows_per_call):
                chunk = rows[start : start + self.rows_per_call]
                size = min(self.rows_per_call, max(_MIN_ROWS, 1 << (len(chunk) - 1).bit_length()))
                selected = windows.take(chunk)
                last = np.zeros(size, dtype=np.int32)
                last[: len(chunk)] = np.maximum(selected.lengths - 1, 0)
                pieces.append(_encode_last(self.graphdef, self.params, left_aligned(selected, length, size), last))
                order.append((chunk, len(chunk)))
        if not pieces:
            return np.zeros((0, self.table.shape[1]), self.table.dtype)
        inverse = np.empty(len(windows), dtype=np.int64)
        inverse[np.concatenate([chunk for chunk, _ in order])] = np.arange(len(windows))
        return np.concatenate([np.asarray(piece)[:count] for piece, (_, count) in zip(pieces, order, strict=True)])[
            inverse
        ]


def _equal_rows(a: Ragged, b: Ragged) -> np.ndarray:
    """Per row `i`, whether `a[i]` and `b[i]` hold the same values."""
    same = a.lengths == b.lengths
    index = np.flatnonzero(same)
    a, b = a.take(index), b.take(index)
    differs = np.bincount(a.row_ids(), weights=a.values != b.values, minlength=len(index)) > 0
    same[index[differs]] = False
    return same


@partial(jax.jit, static_argnums=0)
def _encode_last(graphdef: Any, params: Any, inputs: jax.Array, last: jax.Array) -> jax.Array:
    return nnx.merge(graphdef, params)(inputs, positions=last)


@partial(jax.jit, static_argnums=0)
def _output_table(graphdef: Any, params: Any) -> jax.Array:
    return nnx.merge(graphdef, params).output_table()


@jax.jit
def _dot_scores(representations: jax.Array, table: jax.Array, items: jax.Array) -> jax.Array:
    return representations @ table[items].T


@jax.jit
def _ranks_against_table(
    representations: jax.Array, table_by_column: jax.Array, targets: jax.Array, rows: jax.Array, items: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Per row, the items `1..V` ahead of its target (higher score, or equal score and lower id),
    minus those among the `(rows, items)` pairs (item 0 in a pair: padding); and the number of
    non-finite values among the inputs (the scores can hold NaN only if those do). Every
    comparison reads the one score matrix, as the generic path does."""
    scores = representations @ table_by_column
    target_scores = jnp.take_along_axis(scores, targets[:, None], axis=1)
    item_ids = jnp.arange(scores.shape[1])[None, :]
    ahead = (scores > target_scores) | ((scores == target_scores) & (item_ids < targets[:, None]))
    counts = jnp.sum((ahead & (item_ids > 0)).astype(jnp.float32), axis=1).astype(jnp.int32)
    pair_scores, pair_targets, pair_target_scores = scores[rows, items], targets[rows], target_scores[rows, 0]
    pair_ahead = (pair_scores > pair_target_scores) | ((pair_scores == pair_target_scores) & (items < pair_targets))
    counts = counts - jnp.zeros_like(counts).at[rows].add((pair_ahead & (items > 0)).astype(jnp.int32))
    non_finite = jnp.sum(~jnp.isfinite(representations)) + jnp.sum(~jnp.isfinite(table_by_column))
    return counts, non_finite
