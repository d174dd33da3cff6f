"""Re-ranking a model's candidates for diversity: maximal marginal relevance (MMR; Carbonell and
Goldstein, SIGIR 1998).

From each row's `candidates` best items (by the model, seen items excluded), MMR picks items one
at a time, each maximising `trade_off * relevance(i) - (1 - trade_off) * max_j sim(i, j)` over
the items `j` already picked, where relevance is the model's score rescaled to [0, 1] over the
row's candidates and `sim` is the cosine of the items' feature bags (genres, categories, ...).
`trade_off=1` keeps the model's order; lower values trade accuracy for diversity. Ties go to the
better-ranked candidate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from dynint.errors import ConfigError


@dataclass(frozen=True)
class RerankConfig:
    """`eval.rerank`: `kind` (`none` or `mmr`), MMR's `trade_off` in [0, 1] and how many of the
    model's best items it chooses from (`candidates`)."""

    kind: str = "none"
    trade_off: float = 1.0
    candidates: int = 100

    def __post_init__(self) -> None:
        if self.kind not in ("none", "mmr"):
            raise ConfigError(f"eval.rerank.kind={self.kind!r}: expected 'none' or 'mmr'")
        if not 0.0 <= self.trade_off <= 1.0:
            raise ConfigError(f"eval.rerank.trade_off={self.trade_off!r}: expected a value in [0, 1]")
        if self.candidates < 1:
            raise ConfigError(f"eval.rerank.candidates={self.candidates!r}: expected a positive integer")


def mmr(
    candidates: np.ndarray, scores: np.ndarray, features: sparse.csr_matrix, k: int, trade_off: float
) -> np.ndarray:
    """`(R, k)` re-ranked lists from `candidates` `(R, C)` (best first) and their `scores`."""
    rows, count = candidates.shape
    if not 1 <= k <= count:
        raise ValueError(f"k={k}: expected 1..{count} (the candidates per row)")
    low, high = scores.min(axis=1, keepdims=True), scores.max(axis=1, keepdims=True)
    relevance = (scores - low) / np.where(high > low, high - low, 1.0)
    chosen = np.zeros((rows, k), dtype=candidates.dtype)
    for start in range(0, rows, 256):
        block = slice(start, min(start + 256, rows))
        # Row by row, sparse: Amazon's category and brand vocabularies run to thousands of tokens.
        similarity = np.stack([(bags @ bags.T).toarray() for bags in (features[row] for row in candidates[block])])
        chosen[block] = _greedy(candidates[block], relevance[block], similarity, k, trade_off)
    return chosen


def _greedy(candidates, relevance, similarity, k, trade_off):
    rows, count = candidates.shape
    taken = np.zeros((rows, count), dtype=bool)
    closest = np.zeros((rows, count))  # max similarity to the items picked so far
    picks = np.zeros((rows, k), dtype=np.int64)
    every = np.arange(rows)
    for step in range(k):
        value = trade_off * relevance - (1.0 - trade_off) * closest if step else relevance.copy()
        value[taken] = -np.inf
        pick = np.argmax(value, axis=1)  # the first maximum: the better-ranked candidate
        picks[:, step] = pick
        taken[every, pick] = True
        closest = np.maximum(closest, similarity[every, pick])
    return np.take_along_axis(candidates, picks, axis=1)
