"""Content-based recommendation: TF-IDF item profiles from side features, a user profile from
the recency-weighted history, candidates scored by cosine similarity to that profile.

Side features are item metadata (ml-100k genres and title words; Amazon categories and brand),
known before any interaction, so using them leaks nothing about the evaluation answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from baselines.base import Baseline, FitData
from baselines.recency import HistoryWeights, RecencyConfig
from dynint.data.interactions import ItemFeatures
from dynint.data.ragged import Ragged

_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class ContentConfig:
    """`fields` names the item features to use (token features such as `class` or `attributes`,
    text features such as `title`); empty means every feature the data set has."""

    name: str = "content"
    fields: tuple[str, ...] = ()
    recency: RecencyConfig = field(default_factory=RecencyConfig)


class ContentBased(Baseline):
    """Cosine between the user's profile (recency-weighted mean of history item profiles) and
    each candidate's L2-normalised TF-IDF profile. Items without features score 0."""

    def fit(self, data: FitData) -> ContentBased:
        if data.item_features is None:
            raise ValueError("the content baseline needs item side features; this data set has none")
        self.profiles = tfidf_item_profiles(data.item_features, data.num_items, self.config.fields)
        self._weights = HistoryWeights(self.config.recency, data)
        return self

    def score(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        user_profiles = self._user_profiles(users, histories).toarray()  # (rows, terms): few terms
        # Row-major output: the ranking code scans scores row by row.
        return np.ascontiguousarray((self.profiles[np.asarray(items)] @ user_profiles.T).T)

    def score_pairs(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        user_profiles = self._user_profiles(users, histories)
        return np.asarray(user_profiles.multiply(self.profiles[np.asarray(items)]).sum(axis=1)).reshape(-1)

    def _user_profiles(self, users: np.ndarray, histories: Ragged) -> sp.csr_matrix:
        weights = self._weights.matrix(users, histories, self.profiles.shape[0])
        return l2_normalize_rows(weights @ self.profiles)


def tfidf_item_profiles(features: ItemFeatures, num_items: int, fields: tuple[str, ...] = ()) -> sp.csr_matrix:
    """`(num_items + 1, terms)` L2-normalised TF-IDF rows; the terms of every field side by side.

    tf is a term's count in the item's field, idf `log(N / df)` over the N items having any
    term (so a term every item has carries no weight). Text is split into lower-case words.
    """
    available = [*features.tokens, *features.text]
    chosen = list(fields) or available
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise ValueError(f"content fields {unknown} not among the item features {available}")
    blocks = [_term_counts(features, name, num_items) for name in chosen]
    counts = sp.hstack(blocks, format="csr") if blocks else sp.csr_matrix((num_items + 1, 0))
    counts.eliminate_zeros()
    described = np.count_nonzero(np.diff(counts.indptr))
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log(max(described, 1) / np.maximum(document_frequency, 1))
    weighted = sp.csr_matrix(counts @ sp.diags(idf))
    weighted.eliminate_zeros()  # terms every item has
    return l2_normalize_rows(weighted)


def _term_counts(features: ItemFeatures, name: str, num_items: int) -> sp.csr_matrix:
    """`(num_items + 1, vocabulary)` counts of field `name`'s terms per item."""
    if name in features.tokens:
        rows = features.tokens[name]
        width = len(features.vocabularies[name])
    else:
        words = [_WORD.findall(text.lower()) for text in features.text[name]]
        vocabulary, ids = np.unique(np.array([w for item in words for w in item], dtype=str), return_inverse=True)
        rows = Ragged.from_lengths(ids.reshape(-1), np.array([len(item) for item in words]))
        width = len(vocabulary)
    if len(rows) != num_items + 1:
        raise ValueError(f"item feature {name!r} has {len(rows)} rows; expected num_items + 1 = {num_items + 1}")
    values = np.ones(len(rows.values))
    return sp.csr_matrix((values, (rows.row_ids(), rows.values)), shape=(num_items + 1, width))


def l2_normalize_rows(matrix: sp.spmatrix) -> sp.csr_matrix:
    """Rows scaled to unit Euclidean length; all-zero rows stay zero."""
    matrix = sp.csr_matrix(matrix)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).reshape(-1))
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix)
