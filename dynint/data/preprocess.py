"""Preprocessing: implicit-feedback threshold, k-core filtering and compact id remapping."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from dynint.data.interactions import Interactions


def filter_by_rating(interactions: Interactions, threshold: float) -> Interactions:
    """Keep events whose rating is at least `threshold` (explicit -> implicit feedback)."""
    if interactions.rating is None:
        raise ValueError(f"{interactions.source or 'data'}: rating_threshold set but the data has no ratings")
    return interactions.select(interactions.rating >= threshold)


def k_core(interactions: Interactions, min_user_interactions: int, min_item_interactions: int) -> Interactions:
    """Drop users and items with too few events, repeated until nothing changes (a fixed point)."""
    current = interactions
    while True:
        user_counts = np.bincount(current.user, minlength=current.num_users)
        item_counts = np.bincount(current.item, minlength=current.num_items + 1)
        keep = (user_counts[current.user] >= min_user_interactions) & (
            item_counts[current.item] >= min_item_interactions
        )
        if keep.all():
            return current
        current = current.select(keep)


def remap_ids(interactions: Interactions) -> Interactions:
    """Renumber users and items compactly (items from 1, 0 stays padding), keeping id order."""
    kept_users = np.unique(interactions.user)
    kept_items = np.unique(interactions.item)
    user_map = np.full(interactions.num_users, -1, dtype=np.int64)
    user_map[kept_users] = np.arange(len(kept_users))
    item_map = np.full(interactions.num_items + 1, -1, dtype=np.int64)
    item_map[kept_items] = np.arange(1, len(kept_items) + 1)
    item_rows = np.concatenate([[0], kept_items])
    features = interactions.item_features
    return replace(
        interactions,
        user=user_map[interactions.user],
        item=item_map[interactions.item],
        user_ids=interactions.user_ids[kept_users],
        item_ids=interactions.item_ids[item_rows],
        item_features=None if features is None else features.take(item_rows),
    )


def preprocess(
    interactions: Interactions,
    *,
    rating_threshold: float | None = None,
    min_user_interactions: int = 0,
    min_item_interactions: int = 0,
) -> Interactions:
    """Threshold, k-core filter, remap ids and sort chronologically, in that order."""
    if rating_threshold is not None:
        interactions = filter_by_rating(interactions, rating_threshold)
    if min_user_interactions > 0 or min_item_interactions > 0:
        interactions = k_core(interactions, min_user_interactions, min_item_interactions)
    return remap_ids(interactions).sorted_chronologically()
