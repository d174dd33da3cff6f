"""`dynint.data.item_content`: item documents and attribute bags, on the real data sets and small cases."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from dynint.data.interactions import Interactions, ItemFeatures
from dynint.data.item_content import (
    attribute_bags,
    attribute_bags_from_features,
    documents_from_features,
    has_item_text,
    item_documents,
)
from dynint.data.paths import shared_data_dir
from dynint.data.ragged import Ragged
from dynint.data.synthetic import SyntheticConfig, generate_drifting_interactions
from dynint.errors import ConfigError

# Items 1..3: a product with every field, one with a title only, one with nothing.
PRODUCTS = ItemFeatures(
    tokens={"categories": Ragged.from_rows([[], [1, 2], [], []]), "brand": Ragged.from_rows([[], [1], [], []])},
    vocabularies={"categories": np.array(["[PAD]", "Beauty", "Skin Care"]), "brand": np.array(["[PAD]", "Bare"])},
    text={"title": ["", "Mineral Powder, Deep", "Cut Creme!", ""], "description": ["", " A powder. ", "", ""]},
)


def _interactions(features: ItemFeatures | None, num_items: int) -> Interactions:
    items = np.arange(1, num_items + 1)
    log = Interactions.from_raw_ids(np.zeros(num_items, dtype=np.int64), items, items.astype(np.float64))
    return replace(log, item_features=features, source="toy.inter")


def test_ml100k_documents_read_title_year_and_genres(ml100k: Interactions) -> None:
    documents = item_documents(ml100k)
    assert len(documents) == ml100k.num_items + 1 and documents[0] == ""
    toy_story = list(ml100k.item_ids).index("1")
    assert documents[toy_story] == "Toy Story (1995). Genres: Animation, Children's, Comedy"
    assert all(documents[1:]) and has_item_text(ml100k)


def test_a_year_already_in_the_title_is_not_repeated() -> None:
    features = ItemFeatures(
        tokens={"release_year": Ragged.from_rows([[], [1], [1]])},
        vocabularies={"release_year": np.array(["[PAD]", "1995"])},
        text={"title": ["", "Toy Story (1995)", ""]},
    )
    assert documents_from_features(features, 2) == ["", "Toy Story (1995)", "Year: 1995"]


def test_product_documents_join_labelled_fields_and_leave_items_without_text_empty() -> None:
    documents = item_documents(_interactions(PRODUCTS, 3))
    assert documents == [
        "",
        "Mineral Powder, Deep. Description: A powder. Categories: Beauty, Skin Care. Brand: Bare",
        "Cut Creme!",
        "",
    ]


def test_named_fields_choose_and_order_the_document() -> None:
    interactions = _interactions(PRODUCTS, 3)
    assert item_documents(interactions, ("brand", "title"))[1] == "Mineral Powder, Deep. Brand: Bare"
    with pytest.raises(ConfigError, match=r"toy\.inter: document fields \['colour'\]"):
        item_documents(interactions, ("colour",))


def test_s3rec_attribute_ids_are_no_text(beauty: Interactions) -> None:
    assert not has_item_text(beauty)
    with pytest.raises(ConfigError, match=r"Beauty.*no item text.*\['attributes'\] hold identifiers only"):
        item_documents(beauty)


def test_s3rec_attribute_bags_hold_each_items_attribute_ids(beauty: Interactions) -> None:
    bags = attribute_bags(beauty)
    raw = json.loads((shared_data_dir() / "amazon-beauty" / "Beauty_item2attributes.json").read_text())
    vocabulary = beauty.item_features.vocabularies["attributes"]
    assert (
        bags.field_offsets == {"attributes": 0} and bags.vocab_size == len({a for ids in raw.values() for a in ids}) + 1
    )
    assert len(bags.tokens) == beauty.num_items + 1 and len(bags.tokens[0]) == 0
    for item in (1, 500, beauty.num_items):
        assert sorted(vocabulary[bags.tokens[item]].astype(int).tolist()) == sorted(raw[beauty.item_ids[item]])


def test_ml100k_attribute_bags_put_year_and_genres_in_one_id_space(ml100k: Interactions) -> None:
    bags = attribute_bags(ml100k)
    features = ml100k.item_features
    sizes = {name: len(features.vocabularies[name]) - 1 for name in ("release_year", "class")}
    assert bags.field_offsets == {"release_year": 0, "class": sizes["release_year"]}
    assert bags.vocab_size == 1 + sum(sizes.values())
    assert bags.tokens.values.min() >= 1 and bags.tokens.values.max() == bags.vocab_size - 1
    for item in (1, 2, ml100k.num_items):
        expected = [
            bags.field_offsets[name] + t for name in ("release_year", "class") for t in features.tokens[name][item]
        ]
        assert bags.tokens[item].tolist() == expected


def test_synthetic_documents_carry_the_description_but_not_the_genre_ids() -> None:
    interactions, _ = generate_drifting_interactions(SyntheticConfig(num_users=50, num_items=40, num_clusters=4))
    documents = item_documents(interactions)
    descriptions = interactions.item_features.text["description"]
    assert documents[1:] == [f"Description: {text}" for text in descriptions[1:]]
    assert item_documents(interactions, ("genres",))[1].startswith("Genres: genre_")
    assert attribute_bags(interactions).field_offsets == {"genres": 0}


def test_data_without_features_fail_clearly() -> None:
    bare = _interactions(None, 2)
    assert not has_item_text(bare)
    with pytest.raises(ConfigError, match="toy.inter: no item text.*no item features at all"):
        item_documents(bare)
    with pytest.raises(ConfigError, match=r"toy.inter: no item attributes \(token fields\)"):
        attribute_bags(bare)
    text_only = ItemFeatures(text={"title": ["", "A", "B"]})
    with pytest.raises(ConfigError, match="no item attributes"):
        attribute_bags_from_features(text_only, 2)
    with pytest.raises(ConfigError, match=r"attribute fields \['brand'\]"):
        attribute_bags(_interactions(text_only, 2), ("brand",))
