"""ItemKNN: item-based collaborative filtering (Sarwar et al., WWW 2001) with a recency-weighted
history, tuned as carefully as the neural models (Dacrema et al., RecSys 2019).

A candidate's score is the recency-weighted mean, over the user's history items, of the
history item's similarity to the candidate, each candidate keeping only its `neighbors` most
similar items. Similarities come from the binary user-item matrix of the visible events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse as sp

from baselines.base import Baseline, FitData
from baselines.recency import HistoryWeights, RecencyConfig
from dynint.data.ragged import Ragged
from dynint.errors import ConfigError

Similarity = Literal["cosine", "asymmetric", "jaccard"]


@dataclass(frozen=True)
class ItemKNNConfig:
    """`similarity` between items i (history) and j (candidate), with co-occurrence count c_ij
    and item counts n_i, n_j, and `shrink` s damping pairs seen together only a few times:

    - cosine:     c_ij / (sqrt(n_i n_j) + s)
    - asymmetric: c_ij / (n_i^alpha n_j^(1 - alpha) + s)   (Aiolli, RecSys 2013; alpha=0.5 is cosine)
    - jaccard:    c_ij / (n_i + n_j - c_ij + s)

    `normalize` rescales each history item's neighbour similarities to sum 1 ("sum") or to peak
    at 1 ("max"), so that items with many strong neighbours do not dominate. `max_block_pairs`
    bounds the co-occurrence entries computed at once (memory only; results do not change).
    """

    name: str = "itemknn"
    similarity: Similarity = "cosine"
    neighbors: int = 100
    shrink: float = 0.0
    alpha: float = 0.5
    normalize: Literal["none", "sum", "max"] = "none"
    recency: RecencyConfig = field(default_factory=RecencyConfig)
    max_block_pairs: int = 1_000_000

    def __post_init__(self) -> None:
        if self.similarity not in ("cosine", "asymmetric", "jaccard"):
            raise ConfigError(f"similarity={self.similarity!r}: expected 'cosine', 'asymmetric' or 'jaccard'")
        if self.normalize not in ("none", "sum", "max"):
            raise ConfigError(f"normalize={self.normalize!r}: expected 'none', 'sum' or 'max'")
        if self.neighbors < 1 or self.max_block_pairs < 1:
            raise ConfigError(
                f"neighbors={self.neighbors}, max_block_pairs={self.max_block_pairs}: expected positive integers"
            )
        if self.shrink < 0:
            raise ConfigError(f"shrink={self.shrink}: expected a number >= 0")
        if not 0 <= self.alpha <= 1:
            raise ConfigError(f"alpha={self.alpha}: expected a number in [0, 1]")


class ItemKNN(Baseline):
    """Item-CF over sparse matrices: `fit` builds the pruned item-item similarity once; `score`
    multiplies the (rows x items) recency-weight matrix by it."""

    def incremental(self) -> Baseline:
        """The same model updated with new events instead of refitted (`IncrementalItemKNN`)."""
        from baselines.itemknn_incremental import IncrementalItemKNN

        return IncrementalItemKNN(self.config)

    def fit(self, data: FitData) -> ItemKNN:
        config = self.config
        similarity = item_similarity(
            interaction_matrix(data.sequences, data.num_items),
            config.similarity,
            neighbors=config.neighbors,
            shrink=config.shrink,
            alpha=config.alpha,
            max_block_pairs=config.max_block_pairs,
        )
        self.similarity = normalize_rows(similarity, config.normalize)
        self._by_candidate = self.similarity.T.tocsr()  # row j: candidate j's neighbours
        self._weights = HistoryWeights(config.recency, data)
        return self

    def score(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        weights = self._weights.matrix(users, histories, self.similarity.shape[0])
        return dense_columns(weights @ self.similarity, np.asarray(items))

    def score_pairs(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        weights = self._weights.matrix(users, histories, self.similarity.shape[0])
        neighbours = self._by_candidate[np.asarray(items)]
        return np.asarray(weights.multiply(neighbours).sum(axis=1)).reshape(-1)

    def contributions(self, user: int, history: np.ndarray, items: np.ndarray) -> np.ndarray:
        """`(len(items), len(history))`: what each history event adds to each item's score (its
        recency weight times its similarity to the item); each row sums to the item's score."""
        events = Ragged.from_rows([np.asarray(history)])
        weights = self._weights.event_weights(np.array([user]), events)
        similarities = self.similarity[np.asarray(history)][:, np.asarray(items)].toarray()  # (events, items)
        return (weights[:, None] * similarities).T


def interaction_matrix(sequences: Ragged, num_items: int) -> sp.csr_matrix:
    """Binary `(users, num_items + 1)` matrix: 1 where the user has the item at least once."""
    matrix = sp.csr_matrix(
        (np.ones(len(sequences.values)), (sequences.row_ids(), sequences.values)),
        shape=(len(sequences), num_items + 1),
    )
    matrix.data[:] = 1.0  # duplicates were summed
    return matrix


def item_similarity(
    interactions: sp.csr_matrix,
    similarity: Similarity,
    *,
    neighbors: int,
    shrink: float = 0.0,
    alpha: float = 0.5,
    max_block_pairs: int = 1_000_000,
) -> sp.csr_matrix:
    """Item-item similarity `S[i, j]` (see `ItemKNNConfig`), zero diagonal, pruned to each
    column's `neighbors` largest entries (ties: lower row id kept).

    Computed over blocks of candidate columns, each holding at most about `max_block_pairs`
    co-occurrence entries, so memory stays bounded by that and by `neighbors` per item.
    """
    counts = np.asarray(interactions.sum(axis=0)).reshape(-1)
    by_item = interactions.T.tocsr()
    blocks = []
    for low, high in _column_blocks(interactions, by_item, max_block_pairs):
        # C[low:high, :] = C[:, low:high]^T, co-occurrence being symmetric.
        block = (by_item[low:high] @ interactions).tocoo()
        blocks.append(
            pruned_similarity_entries(
                block.col,
                block.row + low,
                block.data,
                counts,
                similarity,
                neighbors=neighbors,
                shrink=shrink,
                alpha=alpha,
            )
        )
    rows, cols, values = (np.concatenate(parts) for parts in zip(*blocks, strict=True))
    return similarity_matrix(rows, cols, values, interactions.shape[1])


def pruned_similarity_entries(
    i: np.ndarray,
    j: np.ndarray,
    c: np.ndarray,
    counts: np.ndarray,
    similarity: Similarity,
    *,
    neighbors: int,
    shrink: float,
    alpha: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From co-occurrence counts `c` of item pairs `(i, j)` (every pair of the columns `j` it
    covers) and per-item user counts, the `(i, j, S_ij)` entries kept: off the diagonal, each
    column's `neighbors` largest."""
    off_diagonal = i != j
    i, j, c = i[off_diagonal], j[off_diagonal], c[off_diagonal]
    s = _similarity_values(similarity, c, counts[i], counts[j], shrink, alpha)
    keep = top_k_per_column(i, j, s, neighbors)
    return i[keep], j[keep], s[keep]


def similarity_matrix(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, size: int) -> sp.csr_matrix:
    """The `(size, size)` similarity in canonical CSR form (sorted indices), so that matrices with
    the same entries are equal array for array and score bit for bit the same."""
    matrix = sp.csr_matrix((values, (rows, cols)), shape=(size, size))
    matrix.sum_duplicates()
    return matrix


def _similarity_values(
    similarity: Similarity, c: np.ndarray, n_i: np.ndarray, n_j: np.ndarray, shrink: float, alpha: float
) -> np.ndarray:
    if similarity == "cosine":
        denominator = np.sqrt(n_i * n_j)
    elif similarity == "asymmetric":
        denominator = n_i**alpha * n_j ** (1.0 - alpha)
    else:
        denominator = n_i + n_j - c
    return c / (denominator + shrink)


def _column_blocks(interactions: sp.csr_matrix, by_item: sp.csr_matrix, max_block_pairs: int) -> list[tuple[int, int]]:
    """Contiguous column ranges whose co-occurrence entries (bounded, per item, by the summed
    history lengths of its users) total at most `max_block_pairs`; at least one column each."""
    user_lengths = np.diff(interactions.indptr).astype(np.float64)
    bound = np.cumsum(by_item @ user_lengths)
    blocks, low = [], 0
    while low < len(bound):
        spent = bound[low - 1] if low else 0.0
        high = max(int(np.searchsorted(bound, spent + max_block_pairs, side="right")), low + 1)
        blocks.append((low, high))
        low = high
    return blocks


def top_k_per_column(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the entries among each column's `k` largest values (ties: lower row first)."""
    # Three stable argsorts (row, then value descending, then column) give the order of
    # np.lexsort((rows, -values, cols)) several times faster.
    order = np.argsort(rows, kind="stable")
    order = order[np.argsort(-values[order], kind="stable")]
    order = order[np.argsort(cols[order], kind="stable")]
    sorted_cols = cols[order]
    rank = np.arange(len(order)) - np.searchsorted(sorted_cols, sorted_cols, side="left")
    return order[rank < k]


def normalize_rows(similarity: sp.csr_matrix, how: Literal["none", "sum", "max"]) -> sp.csr_matrix:
    """Rescale each row (a history item's neighbours) to sum 1 or to peak at 1; empty rows stay."""
    if how == "none":
        return similarity
    scale = similarity.sum(axis=1) if how == "sum" else similarity.max(axis=1).toarray()
    scale = np.asarray(scale, dtype=np.float64).reshape(-1)
    scale[scale == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / scale) @ similarity)


def dense_columns(scores: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
    """`scores[:, items]` as a dense array; a contiguous run of items is sliced, not gathered."""
    if len(items) and np.array_equal(items, np.arange(items[0], items[0] + len(items))):
        return scores[:, items[0] : items[0] + len(items)].toarray()
    return scores[:, items].toarray()
