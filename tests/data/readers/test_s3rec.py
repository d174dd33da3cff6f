"""`read_s3rec` on the real S3-Rec Amazon files and on small files with errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dynint.data.interactions import Interactions
from dynint.data.readers import read_s3rec
from dynint.errors import DataFormatError


@pytest.fixture(scope="module")
def beauty(shared_data: Path) -> Interactions:
    return read_s3rec(shared_data / "amazon-beauty" / "Beauty.txt")


def test_beauty_has_the_published_counts(beauty):
    assert (beauty.num_users, beauty.num_items, len(beauty)) == (22363, 12101, 198502)
    assert not beauty.has_timestamps


def test_sports_has_the_published_counts(shared_data):
    sports = read_s3rec(shared_data / "amazon-sports" / "Sports_and_Outdoors.txt")
    assert (sports.num_users, sports.num_items, len(sports)) == (35598, 18357, 296337)
    assert "Sports_and_Outdoors_item2attributes.json" in sports.source


def test_beauty_first_user_sequence_is_in_file_order(beauty):
    sequences, positions = beauty.user_sequences()
    assert beauty.user_ids[0] == "1"
    assert beauty.item_ids[sequences[0]].tolist() == ["1", "2", "3", "4", "5"]
    assert positions[0].tolist() == [0, 1, 2, 3, 4]


def test_beauty_attributes_come_from_the_json_beside_the_sequences(beauty):
    features = beauty.item_features
    item = list(beauty.item_ids).index("4")
    assert features.vocabularies["attributes"][features.tokens["attributes"][item]].tolist() == ["1", "2", "3"]
    assert features.tokens["attributes"][item].tolist() == [1, 2, 3]  # integer attribute ids keep their values
    assert len(features.tokens["attributes"][0]) == 0


def test_explicit_attributes_path_and_items_without_attributes(tmp_path):
    sequences = tmp_path / "Toy.txt"
    sequences.write_text("1 10 11\n2 11 12\n")
    attributes = tmp_path / "elsewhere.json"
    attributes.write_text('{"11": [5, 3], "99": [1]}')
    interactions = read_s3rec(sequences, attributes)
    assert [row.tolist() for row in interactions.item_features.tokens["attributes"]] == [[], [], [2, 1], []]
    assert interactions.item_features.vocabularies["attributes"].tolist() == ["[PAD]", "3", "5"]
    assert np.array_equal(interactions.timestamp, [0, 1, 0, 1])


def test_without_attribute_file_there_are_no_features(tmp_path):
    sequences = tmp_path / "Toy.txt"
    sequences.write_text("1 10 11\n")
    assert read_s3rec(sequences).item_features is None


def test_non_integer_item_names_file_and_line(tmp_path):
    sequences = tmp_path / "Toy.txt"
    sequences.write_text("1 10 11\n2 11 B00X\n")
    with pytest.raises(DataFormatError, match=r"Toy\.txt, line 2: expected an integer for item id, got 'B00X'"):
        read_s3rec(sequences)


def test_user_without_items_names_file_and_line(tmp_path):
    sequences = tmp_path / "Toy.txt"
    sequences.write_text("1 10 11\n\n3\n")
    with pytest.raises(DataFormatError, match=r"Toy\.txt, line 3: expected 'user item \[item ...\]'"):
        read_s3rec(sequences)


def test_invalid_attribute_json_names_file_and_line(tmp_path):
    sequences = tmp_path / "Toy.txt"
    sequences.write_text("1 10 11\n")
    (tmp_path / "Toy_item2attributes.json").write_text('{"10": [1],\n "11": [2,}')
    with pytest.raises(DataFormatError, match=r"Toy_item2attributes\.json, line 2: expected a JSON object"):
        read_s3rec(sequences)


def test_non_integer_attribute_ids_are_rejected(tmp_path):
    sequences = tmp_path / "Toy.txt"
    sequences.write_text("1 10 11\n")
    (tmp_path / "Toy_item2attributes.json").write_text('{"10": ["brand"]}')
    with pytest.raises(DataFormatError, match=r"expected a list of integer attribute ids for item '10'"):
        read_s3rec(sequences)
