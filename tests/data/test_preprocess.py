"""`dynint.data.preprocess`: rating threshold, k-core fixed point, compact remapping."""

from __future__ import annotations

import numpy as np
import pytest

from dynint.data.interactions import PADDING_TOKEN, Interactions, ItemFeatures
from dynint.data.preprocess import filter_by_rating, k_core, preprocess, remap_ids
from dynint.data.ragged import Ragged


def _counts_at_least(interactions: Interactions, k: int) -> bool:
    users = np.bincount(interactions.user)
    items = np.bincount(interactions.item)
    return bool((users[users > 0] >= k).all() and (items[items > 0] >= k).all())


def test_k_core_on_ml100k_reaches_a_fixed_point(ml100k: Interactions) -> None:
    core = k_core(ml100k, 20, 20)
    assert 0 < len(core) < len(ml100k)
    assert _counts_at_least(core, 20)
    assert not _counts_at_least(ml100k, 20)
    again = k_core(core, 20, 20)
    assert len(again) == len(core)
    np.testing.assert_array_equal(again.item, core.item)


def test_k_core_repeats_until_removals_stop_cascading() -> None:
    # Item z has one event, so it goes; then user b has one event left and goes; then item y too.
    interactions = Interactions.from_raw_ids(
        ["a", "a", "b", "b", "c", "c"], ["x", "w", "y", "z", "x", "w"], np.arange(6), has_timestamps=False
    )
    core = k_core(interactions, 2, 2)
    assert sorted(core.user_ids[core.user].tolist()) == ["a", "a", "c", "c"]
    assert sorted(core.item_ids[core.item].tolist()) == ["w", "w", "x", "x"]


def test_rating_threshold_keeps_ratings_at_or_above_it(ml100k: Interactions) -> None:
    kept = filter_by_rating(ml100k, 4.0)
    assert len(kept) == int((ml100k.rating >= 4).sum()) == 55375
    assert kept.rating.min() == 4.0


def test_rating_threshold_without_ratings_is_an_error() -> None:
    interactions = Interactions.from_raw_ids(["a"], ["x"], np.zeros(1), source="some.txt")
    with pytest.raises(ValueError, match="some.txt.*no ratings"):
        filter_by_rating(interactions, 1.0)


def test_remap_keeps_zero_free_ids_compact_and_raw_ids_attached(ml100k: Interactions) -> None:
    core = k_core(ml100k, 20, 20)
    remapped = remap_ids(core)
    assert remapped.item_ids[0] == PADDING_TOKEN and remapped.item.min() == 1
    np.testing.assert_array_equal(np.unique(remapped.user), np.arange(remapped.num_users))
    np.testing.assert_array_equal(np.unique(remapped.item), np.arange(1, remapped.num_items + 1))
    np.testing.assert_array_equal(remapped.user_ids[remapped.user], core.user_ids[core.user])
    np.testing.assert_array_equal(remapped.item_ids[remapped.item], core.item_ids[core.item])
    # Relative id order is kept, so numeric raw ids stay in numeric order.
    assert (np.diff(remapped.user_ids.astype(np.int64)) > 0).all()


def test_item_features_follow_their_items_after_remap() -> None:
    interactions = Interactions.from_raw_ids(["u", "u", "v"], ["a", "b", "c"], np.arange(3))
    features = ItemFeatures(
        tokens={"genres": Ragged.from_rows([[], [1], [2], [1, 2]])},
        vocabularies={"genres": np.array([PADDING_TOKEN, "g1", "g2"])},
        text={"title": ["", "A", "B", "C"]},
    )
    interactions = Interactions(**{**interactions.__dict__, "item_features": features})
    remapped = remap_ids(interactions.select(interactions.item != 2))  # drop item "b"
    assert remapped.item_ids.tolist() == [PADDING_TOKEN, "a", "c"]
    assert remapped.item_features.text["title"] == ["", "A", "C"]
    assert [row.tolist() for row in remapped.item_features.tokens["genres"]] == [[], [1], [1, 2]]


def test_preprocess_thresholds_filters_remaps_and_sorts(ml100k: Interactions) -> None:
    data = preprocess(ml100k, rating_threshold=4.0, min_user_interactions=5, min_item_interactions=5)
    assert data.rating.min() >= 4.0
    assert _counts_at_least(data, 5)
    assert np.bincount(data.user).min() >= 5 and np.bincount(data.item)[1:].min() >= 5
    np.testing.assert_array_equal(data.chronological_order(), np.arange(len(data)))
