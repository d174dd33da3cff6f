"""Shared assembly for the readers: `Interactions` from parsed columns, and item side features."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from dynint.data.interactions import PADDING_TOKEN, Interactions, ItemFeatures, dense_id_map
from dynint.data.ragged import Ragged
from dynint.errors import DataFormatError


def sequence_positions(users: np.ndarray) -> np.ndarray:
    """Position `0, 1, 2, ...` of each event among its user's events, in file order."""
    _, codes = np.unique(np.asarray(users), return_inverse=True)
    codes = codes.reshape(-1)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes)
    positions = np.empty(len(codes), dtype=np.int64)
    positions[order] = np.arange(len(codes)) - np.repeat(np.cumsum(counts) - counts, counts)
    return positions


def build_interactions(
    path: Path | str,
    users: Sequence | np.ndarray,
    items: Sequence | np.ndarray,
    timestamp: np.ndarray | None = None,
    rating: np.ndarray | None = None,
) -> Interactions:
    """`Interactions` with `source=path`; `timestamp=None` means the format only has order, so each
    event gets its position within its user's events (and `has_timestamps=False`)."""
    if len(users) == 0:
        raise DataFormatError(path, "expected at least one interaction, found none")
    return Interactions.from_raw_ids(
        users,
        items,
        sequence_positions(np.asarray(users)) if timestamp is None else timestamp,
        rating,
        has_timestamps=timestamp is not None,
        source=str(path),
    )


def with_item_features(
    interactions: Interactions,
    path: Path | str,
    tokens: Mapping[str, Mapping[str, Sequence[str]]],
    text: Mapping[str, Mapping[str, str]],
) -> Interactions:
    """Attach features read from `path`, given per raw item id: `tokens[name][raw_id]` (a list of token
    strings) and `text[name][raw_id]`. Items without a value get no tokens / empty text.

    Token ids start at 1 in order of `dense_id_map`; token id 0 is `PADDING_TOKEN`, as item id 0 is padding.
    """
    raw_items = interactions.item_ids[1:]
    token_features = {
        name: _token_feature([by_item.get(raw, ()) for raw in raw_items]) for name, by_item in tokens.items()
    }
    features = ItemFeatures(
        tokens={name: ragged for name, (ragged, _) in token_features.items()},
        vocabularies={name: vocabulary for name, (_, vocabulary) in token_features.items()},
        text={name: [""] + [by_item.get(raw, "") for raw in raw_items] for name, by_item in text.items()},
    )
    return replace(interactions, item_features=features, source=f"{interactions.source}, {path}")


def _token_feature(rows: list[Sequence[str]]) -> tuple[Ragged, np.ndarray]:
    """Rows of token strings for items 1..N -> (token ids with an empty padding row 0, vocabulary)."""
    lengths = np.array([0] + [len(row) for row in rows], dtype=np.int64)
    vocabulary, token_ids = dense_id_map(np.array([token for row in rows for token in row], dtype=str))
    return Ragged.from_lengths(token_ids + 1, lengths), np.concatenate([np.array([PADDING_TOKEN]), vocabulary])
