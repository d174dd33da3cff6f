"""`dynint.data.interactions`: id maps, chronological order and per-user sequences."""

from __future__ import annotations

import numpy as np

from dynint.data.interactions import PADDING_ITEM, PADDING_TOKEN, Interactions, ItemFeatures, dense_id_map
from dynint.data.ragged import Ragged


def test_dense_id_map_orders_integer_ids_numerically() -> None:
    vocabulary, ids = dense_id_map(np.array(["10", "9", "100", "9"]))
    assert vocabulary.tolist() == ["9", "10", "100"]
    assert ids.tolist() == [1, 0, 2, 0]


def test_dense_id_map_orders_other_ids_by_first_appearance() -> None:
    vocabulary, ids = dense_id_map(np.array(["b", "a", "b", "c", "a"]))
    assert vocabulary.tolist() == ["b", "a", "c"]
    assert ids.tolist() == [0, 1, 0, 2, 1]


def test_dense_id_map_falls_back_to_first_appearance_when_one_id_is_not_an_integer() -> None:
    vocabulary, ids = dense_id_map(np.array(["20", "3", "x3", "20"]))
    assert vocabulary.tolist() == ["20", "3", "x3"]
    assert ids.tolist() == [0, 1, 2, 0]


def test_from_raw_ids_reserves_item_zero_for_padding() -> None:
    interactions = Interactions.from_raw_ids(["7", "5"], ["b", "a"], np.array([1, 2]))
    assert interactions.item_ids.tolist() == [PADDING_TOKEN, "b", "a"]
    assert interactions.item.tolist() == [1, 2] and PADDING_ITEM not in interactions.item
    assert interactions.user_ids.tolist() == ["5", "7"] and interactions.user.tolist() == [1, 0]
    assert (interactions.num_users, interactions.num_items, len(interactions)) == (2, 2, 2)


def _tied() -> Interactions:
    """User u has three events at the same time and one earlier; user v one event."""
    return Interactions.from_raw_ids(
        ["u", "v", "u", "u", "u"], ["c", "a", "a", "b", "d"], np.array([5.0, 1.0, 5.0, 5.0, 2.0])
    )


def test_chronological_order_breaks_time_ties_by_source_position() -> None:
    assert _tied().chronological_order().tolist() == [4, 0, 2, 3, 1]


def test_chronological_order_is_the_same_on_every_call_and_after_sorting() -> None:
    interactions = _tied()
    ordered = interactions.sorted_chronologically()
    np.testing.assert_array_equal(interactions.chronological_order(), interactions.chronological_order())
    np.testing.assert_array_equal(ordered.chronological_order(), np.arange(len(ordered)))


def test_user_sequences_are_chronological_rows_per_user() -> None:
    interactions = _tied()
    items, times = interactions.user_sequences()
    # item ids by first appearance: c=1, a=2, b=3, d=4
    assert [row.tolist() for row in items] == [[4, 1, 2, 3], [2]]
    assert [row.tolist() for row in times] == [[2.0, 5.0, 5.0, 5.0], [1.0]]


def test_user_sequences_keep_a_row_for_users_without_events() -> None:
    interactions = _tied()
    items, _ = interactions.select(interactions.user == 0).user_sequences()
    assert items.lengths.tolist() == [4, 0]


def test_select_keeps_id_maps_and_parallel_arrays_aligned() -> None:
    interactions = Interactions.from_raw_ids(
        ["u", "v", "u"], ["a", "b", "c"], np.array([1.0, 2.0, 3.0]), rating=np.array([1, 2, 3])
    )
    picked = interactions.select(np.array([True, False, True]))
    assert picked.item.tolist() == [1, 3] and picked.rating.tolist() == [1.0, 3.0]
    assert picked.timestamp.tolist() == [1.0, 3.0]
    np.testing.assert_array_equal(picked.item_ids, interactions.item_ids)


def test_item_features_take_reindexes_tokens_and_text() -> None:
    features = ItemFeatures(
        tokens={"genres": Ragged.from_rows([[], [1], [1, 2]])},
        vocabularies={"genres": np.array([PADDING_TOKEN, "x", "y"])},
        text={"title": ["", "First", "Second"]},
    )
    taken = features.take(np.array([0, 2]))
    assert [row.tolist() for row in taken.tokens["genres"]] == [[], [1, 2]]
    assert taken.text["title"] == ["", "Second"]
    assert taken.vocabularies["genres"].tolist() == [PADDING_TOKEN, "x", "y"]
