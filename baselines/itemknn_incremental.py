"""ItemKNN that follows a growing log: `update` adds new events to kept co-occurrence counts
instead of recounting every user's history, and scores exactly as a refit on the same events.

A refit costs the sum over users of (history length)^2; an update only the pairs a user's new
distinct items form with their others, plus re-deriving the pruned similarity from the counts
(every pair's similarity depends on both items' counts, so all columns are re-pruned).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from baselines.base import FitData
from baselines.itemknn import (
    ItemKNN,
    interaction_matrix,
    normalize_rows,
    pruned_similarity_entries,
    similarity_matrix,
)
from baselines.recency import HistoryWeights
from dynint.data.ragged import Ragged
from dynint.train.windows import positions_in_rows

_PRUNE_BLOCK = 65_536


class IncrementalItemKNN(ItemKNN):
    """`fit(data)` then `update(later_data)`, where each user's sequence in `later_data` extends
    (has as prefix) their sequence in the data seen before; `update` may also widen the catalogue.
    The result equals `ItemKNN(config).fit(later_data)` array for array."""

    def fit(self, data: FitData) -> IncrementalItemKNN:
        self._seen = Ragged.from_lengths(np.zeros(0, dtype=np.int64), np.zeros(data.num_users, dtype=np.int64))
        self._users_items = sp.csr_matrix((data.num_users, data.num_items + 1))
        self._cooccurrence = sp.csr_matrix((data.num_items + 1, data.num_items + 1))
        self._pruned: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        return self.update(data)

    def update(self, data: FitData) -> IncrementalItemKNN:
        """Add the events of `data` not seen before (each user's sequence past its old length)."""
        new_events = self._new_events(data)
        users_items = _resized(self._users_items, (data.num_users, data.num_items + 1))
        added = interaction_matrix(new_events, data.num_items)
        added = added - added.multiply(users_items)  # items new to their user
        added.eliminate_zeros()
        # With X the old and D the new binary user-item matrix: C' = (X + D)^T (X + D).
        cross = (added.T @ users_items).tocsr()
        cooccurrence = _resized(self._cooccurrence, (data.num_items + 1,) * 2)
        cooccurrence = (cooccurrence + cross + cross.T + (added.T @ added)).tocsr()
        cooccurrence.sort_indices()
        self._users_items = (users_items + added).tocsr()
        self._cooccurrence = cooccurrence
        self._seen = data.sequences
        self._reprune(np.unique(added.indices), data)
        return self

    def _new_events(self, data: FitData) -> Ragged:
        """Per user, the events of `data` past the ones seen before; refuses data that rewrites them."""
        seen = self._seen
        if data.num_users < len(seen):
            raise ValueError(f"update: {data.num_users} users, fewer than the {len(seen)} seen before")
        old_lengths = np.concatenate([seen.lengths, np.zeros(data.num_users - len(seen), dtype=np.int64)])
        lengths = data.sequences.lengths
        shorter = np.flatnonzero(lengths < old_lengths)
        prefix_index = np.repeat(data.sequences.offsets[:-1], old_lengths) + positions_in_rows(old_lengths)
        if len(shorter) or not np.array_equal(data.sequences.values[prefix_index], seen.values):
            raise ValueError(
                "update: every user's sequence must extend the one seen before (events are only added); refit instead"
            )
        new_lengths = lengths - old_lengths
        new_index = np.repeat(data.sequences.offsets[:-1] + old_lengths, new_lengths) + positions_in_rows(new_lengths)
        return Ragged.from_lengths(data.sequences.values[new_index], new_lengths)

    def _reprune(self, recounted: np.ndarray, data: FitData) -> None:
        """Re-derive the pruned similarity's columns that `recounted` items (whose user counts
        changed) touch: their own and those of every item they co-occur with. Other columns keep
        their entries, which depend only on unchanged counts."""
        config = self.config
        cooccurrence = self._cooccurrence  # symmetric: row j holds column j
        if self._pruned is None:
            affected = np.arange(cooccurrence.shape[0])
            kept = tuple(np.zeros(0, dtype=dtype) for dtype in (np.int64, np.int64, np.float64))
        else:
            affected = np.union1d(recounted, cooccurrence[recounted].indices)
            rows, cols, values = self._pruned
            stays = ~np.isin(cols, affected)
            kept = (rows[stays], cols[stays], values[stays])
        counts = cooccurrence.diagonal()
        parts = [kept]
        # Blocks of affected columns holding at most `_PRUNE_BLOCK` entries (and `max_block_pairs`):
        # sorting several small blocks is faster than one large one, and memory stays bounded.
        block_entries = min(config.max_block_pairs, _PRUNE_BLOCK)
        entries = np.cumsum(np.diff(cooccurrence.indptr)[affected])
        low = 0
        while low < len(affected):
            spent = entries[low - 1] if low else 0
            high = max(int(np.searchsorted(entries, spent + block_entries, side="right")), low + 1)
            columns = cooccurrence[affected[low:high]].tocoo()
            parts.append(
                pruned_similarity_entries(
                    columns.col,
                    affected[low:high][columns.row],
                    columns.data,
                    counts,
                    config.similarity,
                    neighbors=config.neighbors,
                    shrink=config.shrink,
                    alpha=config.alpha,
                )
            )
            low = high
        self._pruned = tuple(np.concatenate(pair) for pair in zip(*parts, strict=True))
        size = data.num_items + 1
        self.similarity = normalize_rows(similarity_matrix(*self._pruned, size), config.normalize)
        self._by_candidate = self.similarity.T.tocsr()
        self._weights = HistoryWeights(config.recency, data)


def _resized(matrix: sp.csr_matrix, shape: tuple[int, int]) -> sp.csr_matrix:
    """`matrix` padded with zero rows and columns to `shape` (a catalogue or user base that grew)."""
    if matrix.shape == shape:
        return matrix
    if matrix.shape[0] > shape[0] or matrix.shape[1] > shape[1]:
        raise ValueError(f"update: shape {shape} is smaller than the {matrix.shape} seen before")
    resized = matrix.tocoo()
    return sp.csr_matrix((resized.data, (resized.row, resized.col)), shape=shape)
