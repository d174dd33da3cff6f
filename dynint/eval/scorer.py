"""The `Scorer` interface every model and baseline implements for evaluation."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from dynint.data.ragged import Ragged


@runtime_checkable
class Scorer(Protocol):
    """Scores items for evaluation rows; higher means more likely to be the next item."""

    def score(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        """Scores of shape `(len(users), len(items))`: row `r` scores `items` (shared by all rows)
        for `users[r]` having seen `histories[r]`."""
        ...


# Optional methods a scorer may add, which the protocols use when present:
# - `score_candidates(users, histories, candidates)`: scores `(B, C)` of each row's own candidates.
# - `full_ranks(users, histories, targets, excluded_rows, excluded_items)`: the 0-based full
#   ranking rank of each row's target among items `1..V`, with ties broken by lower item id first
#   and the `(row, item)` pairs given not counted (each row's target and, with `exclude_seen`,
#   its history). A scorer computing scores on an accelerator can then return ranks instead of a
#   `(B, V)` score matrix. It must give the ranks the generic path would give for its scores.


def score_items(scorer: Scorer, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
    """`scorer.score(...)` as a numpy array, checked for shape `(len(users), len(items))` and NaN."""
    scores = np.asarray(scorer.score(users, histories, items))
    return checked_output(scores, (len(users), len(items)), f"{type(scorer).__name__}.score")


def score_candidates(scorer: Scorer, users: np.ndarray, histories: Ragged, candidates: np.ndarray) -> np.ndarray:
    """Scores `(B, C)` of each row's own candidate items `candidates[r]`.

    Uses `scorer.score_candidates` where the scorer has one; otherwise scores the union of the
    batch's candidates with `score` and gathers each row's columns.
    """
    candidates = np.asarray(candidates)
    if candidates.ndim != 2 or len(candidates) != len(users):
        raise ValueError(f"candidates must have shape (len(users)={len(users)}, C); got {candidates.shape}")
    if hasattr(scorer, "score_candidates"):
        scores = np.asarray(scorer.score_candidates(users, histories, candidates))
        return checked_output(scores, candidates.shape, f"{type(scorer).__name__}.score_candidates")
    union, column = np.unique(candidates, return_inverse=True)
    scores = score_items(scorer, users, histories, union)
    return np.take_along_axis(scores, column.reshape(candidates.shape), axis=1)


def checked_output(scores: np.ndarray, shape: tuple[int, ...], source: str) -> np.ndarray:
    if scores.shape != tuple(shape):
        raise ValueError(f"{source} returned shape {scores.shape}; expected {tuple(shape)}")
    # A sum is NaN whenever a score is (and rarely otherwise: inf - inf), and cheaper than isnan.
    if not np.issubdtype(scores.dtype, np.integer) and np.isnan(scores.sum()) and np.isnan(scores).any():
        raise ValueError(f"{source} returned {int(np.isnan(scores).sum())} NaN scores")
    return scores
