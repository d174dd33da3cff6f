"""`read_recbole_atomic` on the real RecBole ml-100k files and on small atomic files with errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dynint.data.interactions import Interactions
from dynint.data.readers import read_recbole_atomic
from dynint.errors import DataFormatError

INTER_HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float"


@pytest.fixture(scope="module")
def ml100k(ml100k_dir: Path) -> Interactions:
    return read_recbole_atomic(ml100k_dir, "ml-100k")


def features_of(interactions: Interactions, raw_item: str, name: str) -> list[str]:
    features = interactions.item_features
    item = list(interactions.item_ids).index(raw_item)
    return features.vocabularies[name][features.tokens[name][item]].tolist()


def write_atomic(directory: Path, name: str, suffix: str, lines: list[str]) -> Path:
    path = directory / f"{name}.{suffix}"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_ml100k_has_the_published_counts(ml100k):
    assert (ml100k.num_users, ml100k.num_items, len(ml100k)) == (943, 1682, 100_000)
    assert ml100k.has_timestamps
    assert "ml-100k.inter" in ml100k.source and "ml-100k.item" in ml100k.source


def test_ml100k_first_event_keeps_its_raw_ids_rating_and_timestamp(ml100k):
    first = 0
    assert ml100k.user_ids[ml100k.user[first]] == "196"
    assert ml100k.item_ids[ml100k.item[first]] == "242"
    assert ml100k.rating[first] == 3
    assert ml100k.timestamp[first] == 881250949


def test_ml100k_ids_are_dense_with_item_zero_for_padding(ml100k):
    assert ml100k.item_ids[0] == "[PAD]"
    assert set(np.unique(ml100k.item)) == set(range(1, 1683))
    assert set(np.unique(ml100k.user)) == set(range(943))
    assert ml100k.item_ids[1] == "1" and ml100k.user_ids[0] == "1"  # integer ids keep their numeric order


def test_ml100k_item_file_gives_genre_and_year_tokens_and_title_text(ml100k):
    features = ml100k.item_features
    assert features_of(ml100k, "1", "class") == ["Animation", "Children's", "Comedy"]
    assert features_of(ml100k, "1", "release_year") == ["1995"]
    assert features.text["title"][list(ml100k.item_ids).index("1")] == "Toy Story"
    assert sorted(features.tokens) == ["class", "release_year"] and sorted(features.text) == ["title"]
    assert len(features.tokens["class"]) == len(features.text["title"]) == ml100k.num_items + 1
    assert len(features.tokens["class"][0]) == 0 and features.text["title"][0] == ""
    assert features.vocabularies["class"][0] == "[PAD]" and features.tokens["class"].values.min() >= 1


def test_without_timestamp_events_are_numbered_in_file_order_per_user(tmp_path):
    write_atomic(tmp_path, "toy", "inter", ["user_id:token\titem_id:token", "a\tx", "b\ty", "a\ty", "a\tz"])
    interactions = read_recbole_atomic(tmp_path, "toy")
    assert not interactions.has_timestamps and interactions.rating is None
    assert interactions.timestamp.tolist() == [0, 0, 1, 2]
    assert interactions.item_features is None  # no toy.item


def test_items_without_a_row_in_the_item_file_get_empty_features(tmp_path):
    write_atomic(tmp_path, "toy", "inter", [INTER_HEADER, "1\t7\t4\t10", "1\t8\t5\t11"])
    write_atomic(
        tmp_path, "toy", "item", ["item_id:token\ttitle:token_seq\ttags:token_seq\tprice:float", "8\tA B\tx y\t2.5"]
    )
    interactions = read_recbole_atomic(tmp_path, "toy")
    assert interactions.item_features.text["title"] == ["", "", "A B"]
    assert [row.tolist() for row in interactions.item_features.tokens["tags"]] == [[], [], [1, 2]]
    assert "price" not in interactions.item_features.tokens


def test_row_with_missing_column_names_file_and_line(tmp_path):
    write_atomic(tmp_path, "toy", "inter", [INTER_HEADER, "1\t7\t4\t10", "1\t8\t5"])
    with pytest.raises(DataFormatError, match=r"toy\.inter, line 3: expected 4 columns"):
        read_recbole_atomic(tmp_path, "toy")


def test_non_numeric_rating_names_file_and_line(tmp_path):
    write_atomic(tmp_path, "toy", "inter", [INTER_HEADER, "1\t7\tgood\t10"])
    with pytest.raises(DataFormatError, match=r"toy\.inter, line 2: expected a finite number for rating, got 'good'"):
        read_recbole_atomic(tmp_path, "toy")


def test_header_without_item_id_names_the_header(tmp_path):
    write_atomic(tmp_path, "toy", "inter", ["user_id:token\tmovie:token", "1\t7"])
    with pytest.raises(DataFormatError, match=r"toy\.inter, line 1: the header .*movie:token.* has no 'item_id'"):
        read_recbole_atomic(tmp_path, "toy")


def test_header_field_without_a_type_is_rejected(tmp_path):
    write_atomic(tmp_path, "toy", "inter", ["user_id\titem_id:token", "1\t7"])
    with pytest.raises(DataFormatError, match=r"toy\.inter, line 1: expected header fields 'name:type'"):
        read_recbole_atomic(tmp_path, "toy")


def test_missing_inter_file_names_its_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"toy\.inter"):
        read_recbole_atomic(tmp_path, "toy")


def test_invalid_utf8_names_file_and_line(tmp_path):
    (tmp_path / "toy.inter").write_bytes(f"{INTER_HEADER}\n1\t7\t4\t10\n1\t\xff8\t5\t11\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match=r"toy\.inter, line 3: expected utf-8 text"):
        read_recbole_atomic(tmp_path, "toy")
