"""A trained sequence model as an evaluation `Scorer`.

Each history is encoded once: its last `max_length` items (for a cloze model, the last
`max_length - 1` and a mask token) are left-aligned in the shortest length bucket that holds
them, and the hidden state at the last real position is scored against the item table.
Encoder calls have a few static shapes (bucket length x a power-of-two row count), and a row's
representation does not depend on which rows share its call, up to float rounding.

Full ranking scores the catalogue in blocks of `SCORE_BLOCK` items, the table laid out as
`(blocks, d, SCORE_BLOCK)`: a matrix product's rounding depends on its shape on CPU, and with a
fixed block shape a score is the same float whatever the catalogue's size or split. Given a mesh
whose `model` axis is larger than 1, the blocks stay split over `model`: each device scores its
own blocks and counts the items there ahead of each target, and the counts are summed across the
axis (`shard_map`); the table is never gathered. A target's score is the one its owner computed,
so the tie rule (equal score, lower id first), the exclusion of seen items and every rank are
those of one device, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from dynint.data.ragged import Ragged
from dynint.models.base import ClozeObjective, Objective, TimedItems
from dynint.train.sharding import MODEL_AXIS, one_program_at_a_time
from dynint.train.windows import last_items, left_aligned, relative_times

if TYPE_CHECKING:
    from dynint.train.config import TrainConfig

_MIN_ROWS = 8
SCORE_BLOCK = 512


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
    of a growing catalogue, never scored). With a `mesh` of model parallelism above 1, full
    ranking runs on the table split over its `model` axis (see the module's docstring).
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
        mesh: Mesh | None = None,
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
        self._num_columns = jnp.int32(self.table.shape[0])  # an input: a growing catalogue keeps the compiled ranker
        if mesh is not None and mesh.shape[MODEL_AXIS] > 1:
            self._table_blocks = _table_blocks(self.table, mesh)
            self._rank = _sharded_ranker(mesh)
            self._mesh = mesh
        else:
            self._table_blocks = _table_blocks(self.table, None)
            self._rank = _ranks_against_table
            self._mesh = None
        self._cache: tuple[np.ndarray, Ragged, np.ndarray] | None = None
        self._one_call_at_a_time = one_program_at_a_time(_devices_of(params))
        self.uses_event_times = bool(getattr(nnx.merge(graphdef, params), "uses_event_times", False))

    @classmethod
    def for_training(
        cls,
        graphdef: Any,
        params: Any,
        objective: Objective,
        train: TrainConfig,
        num_items: int | None = None,
        mesh: Mesh | None = None,
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
            mesh=mesh,
        )

    def encode(self, histories: Ragged, times: Ragged | None = None) -> np.ndarray:
        """`(len(histories), d)` representations, one per history (kept on the host: they are
        small, and numpy indexing them costs no dispatch of device operations). `times`, the
        histories' event times, are needed by a model that reads them (`uses_event_times`)."""
        return self._encode_windows(
            query_windows(histories, self.objective, self.max_length), self._time_windows(histories, times)
        )

    def precompute(self, users: np.ndarray, histories: Ragged, times: Ragged | None = None) -> None:
        """Encode the histories of `users` (with their event `times`, for a model that reads them)
        once; later calls for the same users and histories reuse the result."""
        windows = query_windows(histories, self.objective, self.max_length)
        row_of_user = np.full(int(users.max(initial=-1)) + 1, -1, dtype=np.int64)
        row_of_user[users] = np.arange(len(users))
        self._cache = (row_of_user, windows, self._encode_windows(windows, self._time_windows(histories, times)))

    def _time_windows(self, histories: Ragged, times: Ragged | None) -> Ragged | None:
        """The times of the query windows' events, for a model that reads them (else None)."""
        if not self.uses_event_times:
            return None
        if times is None:
            raise ValueError(
                "this model reads event times (model.time_buckets > 0), and these histories came without them: "
                "only the evaluation sets that `dynint run` precomputes carry times so far"
            )
        if not np.array_equal(times.lengths, histories.lengths):
            raise ValueError("event times must match the histories row for row and event for event")
        return last_items(times, self.max_length)

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
        rows, items = _padded_pairs(excluded_rows, excluded_items)
        representations = self._representations(users, histories)
        ranks, non_finite = self._rank(
            representations, self._table_blocks, self._num_columns, jnp.asarray(targets), rows, items
        )
        if int(non_finite):
            raise ValueError(
                f"{type(self).__name__}: {int(non_finite)} non-finite values in the representations or item table"
            )
        return np.asarray(ranks)

    def top_k(
        self, users: np.ndarray, histories: Ragged, k: int, excluded_rows: np.ndarray, excluded_items: np.ndarray
    ) -> np.ndarray:
        """`(B, k)` best items `1..V` per row, ties to the lower id, the `(row, item)` pairs given
        never chosen (see `dynint.eval.top_k`); on a split table each device finds its own best
        `k` and the per-device lists are merged."""
        rows, items = _padded_pairs(excluded_rows, excluded_items)
        representations = self._representations(users, histories)
        if self._mesh is None:
            found = _top_k_against_table(representations, self._table_blocks, self._num_columns, rows, items, k)
        else:
            found = _sharded_top_k(self._mesh, k)(representations, self._table_blocks, self._num_columns, rows, items)
        return np.asarray(found)

    def _representations(self, users: np.ndarray, histories: Ragged) -> np.ndarray:
        if self._cache is None:
            return self.encode(histories)  # refused for a model that reads event times
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
            # Histories outside the precomputed set come without times: refused for a model that reads them.
            representations[missing] = self._encode_windows(windows.take(missing), self._time_windows(histories, None))
        return representations

    def _encode_windows(self, windows: Ragged, time_windows: Ragged | None = None) -> np.ndarray:
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
                inputs = left_aligned(selected, length, size)
                if time_windows is not None:
                    inputs = TimedItems(inputs, relative_times(time_windows.take(chunk), length, size))
                pieces.append(_encode_last(self.graphdef, self.params, inputs, last))
                order.append((chunk, len(chunk)))
                if self._one_call_at_a_time:  # seen hanging with a 10^6-item table split 8 ways otherwise
                    jax.block_until_ready(pieces[-1])
        if not pieces:
            return np.zeros((0, self.table.shape[1]), self.table.dtype)
        inverse = np.empty(len(windows), dtype=np.int64)
        inverse[np.concatenate([chunk for chunk, _ in order])] = np.arange(len(windows))
        return np.concatenate([np.asarray(piece)[:count] for piece, (_, count) in zip(pieces, order, strict=True)])[
            inverse
        ]


def _devices_of(params: Any) -> set:
    """Every device holding part of an array of `params`."""
    return {
        device for leaf in jax.tree.leaves(params) if isinstance(leaf, jax.Array) for device in leaf.sharding.device_set
    }


def _padded_pairs(excluded_rows: np.ndarray, excluded_items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The `(row, item)` pairs as int32 arrays padded to a power of two (few compiled shapes); the
    padding pairs name item 0, which is never a candidate, so they change nothing."""
    size = max(_MIN_ROWS, 1 << max(len(excluded_rows) - 1, 0).bit_length())
    rows = np.zeros(size, dtype=np.int32)
    items = np.zeros(size, dtype=np.int32)
    rows[: len(excluded_rows)] = excluded_rows
    items[: len(excluded_items)] = excluded_items
    return rows, items


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
    """Scores of `items` computed as full ranking computes them (in blocks of `SCORE_BLOCK`), so
    the generic ranking path and the fused one compare the same floats."""
    padded = jnp.pad(items, (0, -items.shape[0] % SCORE_BLOCK))
    blocks = table[padded].reshape(-1, SCORE_BLOCK, table.shape[1]).transpose(0, 2, 1)
    return _block_scores(representations, blocks)[:, : items.shape[0]]


def _table_blocks(table: jax.Array, mesh: Mesh | None) -> jax.Array:
    """`(blocks, d, SCORE_BLOCK)`: the table's rows as columns, block by block, zero-padded to
    whole blocks (and, with a mesh, to a block count the `model` axis divides, the blocks split
    over it). The re-layout runs where the table lives, so a split table is never gathered."""
    parts = 1 if mesh is None else mesh.shape[MODEL_AXIS]
    blocks = -(-table.shape[0] // (SCORE_BLOCK * parts)) * parts
    layout = None if mesh is None else NamedSharding(mesh, PartitionSpec(MODEL_AXIS, None, None))
    return _relayout(blocks, layout)(table)


@lru_cache(maxsize=16)
def _relayout(blocks: int, layout: NamedSharding | None) -> Callable[[jax.Array], jax.Array]:
    """The compiled re-layout into `blocks` blocks, one per block count and layout (every scorer
    of a run, and of a stream's windows, reuses it)."""

    def relayout(rows: jax.Array) -> jax.Array:
        padded = jnp.pad(rows, ((0, blocks * SCORE_BLOCK - rows.shape[0]), (0, 0)))
        return padded.reshape(blocks, SCORE_BLOCK, rows.shape[1]).transpose(0, 2, 1)

    return jax.jit(relayout, out_shardings=layout)


def _block_scores(representations: jax.Array, blocks: jax.Array) -> jax.Array:
    """`(B, blocks * SCORE_BLOCK)` scores, column `j` that of the `j`-th row of the blocks' table."""
    scores = jnp.einsum("bd,ndw->bnw", representations, blocks)
    return scores.reshape(representations.shape[0], -1)


def _count_ahead(scores, target_scores, first, num_columns, targets, rows, items):
    """Per row, the items among `scores`' columns (ids `first..`, real below `num_columns`) ahead
    of its target (higher score, or equal score and lower id), minus those among the `(rows,
    items)` pairs whose item is one of these columns (item 0 in a pair: padding)."""
    width = scores.shape[1]
    item_ids = first + jnp.arange(width)[None, :]
    real = (item_ids > 0) & (item_ids < num_columns)
    ahead = (scores > target_scores[:, None]) | ((scores == target_scores[:, None]) & (item_ids < targets[:, None]))
    counts = jnp.sum((ahead & real).astype(jnp.float32), axis=1).astype(jnp.int32)
    local = items - first
    here = (local >= 0) & (local < width) & (items > 0)
    pair_scores = scores[rows, jnp.clip(local, 0, width - 1)]
    pair_targets, pair_target_scores = targets[rows], target_scores[rows]
    pair_ahead = (pair_scores > pair_target_scores) | ((pair_scores == pair_target_scores) & (items < pair_targets))
    return counts - jnp.zeros_like(counts).at[rows].add((pair_ahead & here).astype(jnp.int32))


@jax.jit
def _ranks_against_table(
    representations: jax.Array,
    blocks: jax.Array,
    num_columns: jax.Array,
    targets: jax.Array,
    rows: jax.Array,
    items: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Per row, the items `1..V` ahead of its target (higher score, or equal score and lower id),
    minus those among the `(rows, items)` pairs (item 0 in a pair: padding); and the number of
    non-finite values among the inputs (the scores can hold NaN only if those do). Every
    comparison reads the one score matrix, as the generic path does."""
    scores = _block_scores(representations, blocks)
    target_scores = jnp.take_along_axis(scores, targets[:, None], axis=1)[:, 0]
    counts = _count_ahead(scores, target_scores, 0, num_columns, targets, rows, items)
    non_finite = jnp.sum(~jnp.isfinite(representations)) + jnp.sum(~jnp.isfinite(blocks))
    return counts, non_finite


def _sharded_ranker(mesh: Mesh) -> Any:
    """`_ranks_against_table` over blocks split over `model`: every device ranks its own blocks and
    the per-device counts are summed; only a target's owner holds its score (the others give -inf
    to a maximum over the axis)."""
    replicated = PartitionSpec()

    @jax.jit
    @partial(
        jax.shard_map,
        mesh=mesh,
        in_specs=(replicated, PartitionSpec(MODEL_AXIS, None, None), *([replicated] * 4)),
        out_specs=(replicated, replicated),
    )
    def ranks(representations, blocks, num_columns, targets, rows, items):
        scores = _block_scores(representations, blocks)
        width = scores.shape[1]
        first = jax.lax.axis_index(MODEL_AXIS) * width
        local = targets - first
        owned = (local >= 0) & (local < width)
        own_scores = jnp.take_along_axis(scores, jnp.clip(local, 0, width - 1)[:, None], axis=1)[:, 0]
        target_scores = jax.lax.pmax(jnp.where(owned, own_scores, -jnp.inf), MODEL_AXIS)
        counts = _count_ahead(scores, target_scores, first, num_columns, targets, rows, items)
        non_finite = jnp.sum(~jnp.isfinite(blocks)) + jnp.sum(~jnp.isfinite(representations)) * (first == 0)
        return jax.lax.psum(counts, MODEL_AXIS), jax.lax.psum(non_finite, MODEL_AXIS)

    return ranks


def _best_of_block(scores, first, num_columns, rows, items, k):
    """`(values, ids)` of the `k` best columns of `scores` (ids `first..`), padding, item 0 and the
    excluded pairs set to -inf first; equal values keep the lower id first (`lax.top_k`)."""
    width = scores.shape[1]
    item_ids = first + jnp.arange(width)[None, :]
    scores = jnp.where((item_ids > 0) & (item_ids < num_columns), scores, -jnp.inf)
    local = items - first
    here = (local >= 0) & (local < width) & (items > 0)
    scores = scores.at[rows, jnp.where(here, local, width)].set(-jnp.inf, mode="drop")
    values, columns = jax.lax.top_k(scores, k)
    return values, columns + first


@partial(jax.jit, static_argnums=5)
def _top_k_against_table(representations, blocks, num_columns, rows, items, k):
    _, ids = _best_of_block(_block_scores(representations, blocks), 0, num_columns, rows, items, k)
    return ids


@lru_cache(maxsize=16)
def _sharded_top_k(mesh: Mesh, k: int) -> Any:
    """`_top_k_against_table` over blocks split over `model`: each device's best `k`, gathered in
    device order (ascending ids) and cut to the best `k` again, so ties still go to the lower id."""
    replicated = PartitionSpec()

    # The gathered lists are the same on every device, which shard_map cannot infer through
    # `all_gather`; its replication check is off for this function alone.
    @jax.jit
    @partial(
        jax.shard_map,
        mesh=mesh,
        in_specs=(replicated, PartitionSpec(MODEL_AXIS, None, None), *([replicated] * 3)),
        out_specs=replicated,
        check_vma=False,
    )
    def top_k(representations, blocks, num_columns, rows, items):
        scores = _block_scores(representations, blocks)
        first = jax.lax.axis_index(MODEL_AXIS) * scores.shape[1]
        values, ids = _best_of_block(scores, first, num_columns, rows, items, min(k, scores.shape[1]))
        values = jax.lax.all_gather(values, MODEL_AXIS, axis=1, tiled=True)
        ids = jax.lax.all_gather(ids, MODEL_AXIS, axis=1, tiled=True)
        _, best = jax.lax.top_k(values, k)
        return jnp.take_along_axis(ids, best, axis=1)

    return top_k
