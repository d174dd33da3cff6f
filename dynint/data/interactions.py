"""`Interactions`: the one structure every reader returns and every later stage consumes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from dynint.data.ragged import Ragged

PADDING_ITEM = 0
PADDING_TOKEN = "[PAD]"


@dataclass(frozen=True)
class ItemFeatures:
    """Item side features indexed by internal item id (row 0 is the padding item).

    `tokens[name]` holds a multi-valued categorical feature (genres, categories, brand) as
    token ids into `vocabularies[name]`; `text[name]` holds free text (e.g. titles).
    """

    tokens: dict[str, Ragged] = field(default_factory=dict)
    vocabularies: dict[str, np.ndarray] = field(default_factory=dict)
    text: dict[str, list[str]] = field(default_factory=dict)

    def take(self, item_rows: np.ndarray) -> ItemFeatures:
        """Features re-indexed so that new item `i` has old item `item_rows[i]`'s features."""
        return ItemFeatures(
            tokens={k: v.take(item_rows) for k, v in self.tokens.items()},
            vocabularies=dict(self.vocabularies),
            text={k: [v[i] for i in item_rows] for k, v in self.text.items()},
        )


@dataclass(frozen=True)
class Interactions:
    """User-item events as parallel numpy arrays plus id maps and optional side features.

    Users are numbered `0..num_users-1`; items `1..num_items` (0 is reserved for padding).
    `timestamp` is a Unix time where the source has one, else the event's position in its
    user's sequence (`has_timestamps` says which). `user_ids[u]` / `item_ids[i]` give the raw
    ids of the source files (`item_ids[0]` is the padding token).
    """

    user: np.ndarray
    item: np.ndarray
    timestamp: np.ndarray
    rating: np.ndarray | None
    user_ids: np.ndarray
    item_ids: np.ndarray
    item_features: ItemFeatures | None = None
    has_timestamps: bool = True
    source: str = ""

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    @property
    def num_items(self) -> int:
        """Number of real items (excluding the padding id 0)."""
        return len(self.item_ids) - 1

    def __len__(self) -> int:
        return len(self.user)

    def select(self, mask_or_index: np.ndarray) -> Interactions:
        """The events picked by a boolean mask or an index array (id maps unchanged)."""
        return replace(
            self,
            user=self.user[mask_or_index],
            item=self.item[mask_or_index],
            timestamp=self.timestamp[mask_or_index],
            rating=None if self.rating is None else self.rating[mask_or_index],
        )

    def chronological_order(self) -> np.ndarray:
        """Event order by (user, timestamp, position in the source): a deterministic tie-break."""
        return np.lexsort((np.arange(len(self)), self.timestamp, self.user))

    def sorted_chronologically(self) -> Interactions:
        return self.select(self.chronological_order())

    def user_sequences(self) -> tuple[Ragged, Ragged]:
        """Per-user chronological item sequences and their timestamps (row `u` is user `u`)."""
        ordered = self.sorted_chronologically()
        lengths = np.bincount(ordered.user, minlength=self.num_users)
        return Ragged.from_lengths(ordered.item, lengths), Ragged.from_lengths(ordered.timestamp, lengths)

    def user_ratings(self) -> Ragged | None:
        """Per-user ratings, event for event in the order of `user_sequences()` (None without ratings)."""
        if self.rating is None:
            return None
        order = self.chronological_order()
        return Ragged.from_lengths(self.rating[order], np.bincount(self.user, minlength=self.num_users))

    @classmethod
    def from_raw_ids(
        cls,
        raw_users: Sequence | np.ndarray,
        raw_items: Sequence | np.ndarray,
        timestamp: np.ndarray,
        rating: np.ndarray | None = None,
        *,
        has_timestamps: bool = True,
        source: str = "",
    ) -> Interactions:
        """Build from raw ids, numbering users and items by `dense_id_map`."""
        user_ids, user = dense_id_map(np.asarray(raw_users))
        item_vocab, item = dense_id_map(np.asarray(raw_items))
        return cls(
            user=user,
            item=item + 1,
            timestamp=np.asarray(timestamp, dtype=np.float64),
            rating=None if rating is None else np.asarray(rating, dtype=np.float32),
            user_ids=user_ids,
            item_ids=np.concatenate([np.array([PADDING_TOKEN]), item_vocab]),
            has_timestamps=has_timestamps,
            source=source,
        )


def dense_id_map(raw_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map raw ids to `0..n-1`: by integer value when every id is an integer, else by first
    appearance. Returns (vocabulary of raw ids as strings, dense id of each input).

    Integer arrays take a fast path (sorting strings is ~100x slower than sorting integers).
    """
    raw_ids = np.asarray(raw_ids)
    if raw_ids.dtype.kind in "iu":
        unique, inverse = np.unique(raw_ids, return_inverse=True)
        return unique.astype(str), inverse.reshape(-1).astype(np.int64)
    raw_ids = raw_ids.astype(str)
    unique, first_index, inverse = np.unique(raw_ids, return_index=True, return_inverse=True)
    try:
        order = np.argsort(np.array([int(u) for u in unique]), kind="stable")
    except ValueError:
        order = np.argsort(first_index, kind="stable")
    rank = np.empty(len(unique), dtype=np.int64)
    rank[order] = np.arange(len(unique))
    return unique[order], rank[inverse.reshape(-1)]
