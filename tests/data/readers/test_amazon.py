"""The Amazon readers on small files in the exact 2014 and 2023 release formats, gzipped where released so."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from dynint.data.interactions import Interactions
from dynint.data.readers import read_amazon_5core, read_amazon_2023_jsonl, read_amazon_ratings_csv
from dynint.errors import DataFormatError

REVIEWS_2014 = [
    {"reviewerID": "A1YJEY40YUW4SE", "asin": "7806397051", "reviewerName": "Andrea", "helpful": [3, 4],
     "reviewText": "Very oily, it says it is.", "overall": 1.0, "summary": "Don't waste your money",
     "unixReviewTime": 1391040000, "reviewTime": "01 30, 2014"},
    {"reviewerID": "A60XNB876KYML", "asin": "7806397051", "reviewerName": "Jessica H.", "helpful": [1, 1],
     "reviewText": "Nice colors.", "overall": 3.0, "summary": "OK Palette!", "unixReviewTime": 1397779200,
     "reviewTime": "04 18, 2014"},
    {"reviewerID": "A1YJEY40YUW4SE", "asin": "9759091062", "reviewerName": "Andrea", "helpful": [0, 0],
     "reviewText": "Works.", "overall": 5.0, "summary": "Good", "unixReviewTime": 1390953600,
     "reviewTime": "01 29, 2014"},
]  # fmt: skip
# The 2014 metadata is written with Python's repr, not JSON (single quotes), one dict per line.
META_2014 = [
    "{'asin': '7806397051', 'title': 'Mineral Powder, Deep', 'price': 8.99, 'salesRank': {'Beauty': 112},"
    " 'categories': [['Beauty', 'Makeup', 'Face'], ['Beauty', 'Makeup', 'Powder']], 'brand': 'Bare',"
    " 'description': 'A loose powder. '}",
    "{'asin': '0000000000', 'title': 'Not reviewed', 'categories': [['Beauty']]}",
]


def write_gzip(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as file:
        file.writelines(line + "\n" for line in lines)
    return path


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def item_index(interactions: Interactions, raw_item: str) -> int:
    return list(interactions.item_ids).index(raw_item)


def tokens_of(interactions: Interactions, raw_item: str, name: str) -> list[str]:
    features = interactions.item_features
    return features.vocabularies[name][features.tokens[name][item_index(interactions, raw_item)]].tolist()


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_2014_ratings_csv_keeps_string_ids_ratings_and_timestamps(tmp_path, suffix):
    lines = ["A2XVJBSRI3SWDI,0000031887,5.0,1383523200", "A2G0LNLN79Q6HR,B00004U9V2,4.0,1337990400"]
    path = (write_gzip if suffix.endswith(".gz") else write)(tmp_path / f"ratings_Beauty{suffix}", lines)
    interactions = read_amazon_ratings_csv(path)
    assert interactions.user_ids[interactions.user].tolist() == ["A2XVJBSRI3SWDI", "A2G0LNLN79Q6HR"]
    assert interactions.item_ids[interactions.item].tolist() == ["0000031887", "B00004U9V2"]
    assert interactions.rating.tolist() == [5.0, 4.0] and interactions.timestamp.tolist() == [1383523200, 1337990400]
    assert interactions.has_timestamps and interactions.item_features is None


def test_2014_5core_reviews_with_literal_metadata(tmp_path):
    reviews = write_gzip(tmp_path / "reviews_Beauty_5.json.gz", [json.dumps(r) for r in REVIEWS_2014])
    meta = write_gzip(tmp_path / "meta_Beauty.json.gz", META_2014)
    interactions = read_amazon_5core(reviews, meta)
    assert (interactions.num_users, interactions.num_items, len(interactions)) == (2, 2, 3)
    assert interactions.rating.tolist() == [1.0, 3.0, 5.0]
    assert interactions.timestamp.tolist() == [1391040000, 1397779200, 1390953600]
    assert tokens_of(interactions, "7806397051", "categories") == ["Beauty", "Makeup", "Face", "Powder"]
    assert tokens_of(interactions, "7806397051", "brand") == ["Bare"]
    assert tokens_of(interactions, "9759091062", "categories") == []  # no metadata line for this item
    assert interactions.item_features.text["title"][item_index(interactions, "7806397051")] == "Mineral Powder, Deep"
    assert interactions.item_features.text["description"][1:] == ["A loose powder.", ""]
    assert "Not reviewed" not in interactions.item_features.vocabularies["categories"]
    assert str(meta) in interactions.source


def test_2023_jsonl_stores_seconds_and_reads_store_as_brand(tmp_path):
    reviews = [
        {"rating": 5.0, "title": "Great", "text": "...", "images": [], "asin": "B00YQ6X8EO",
         "parent_asin": "B00YQ6X8EO", "user_id": "AGKHLEW2SOWHNMFQIJGBECAF7INQ", "timestamp": 1588687728923,
         "helpful_vote": 0, "verified_purchase": True},
        {"rating": 4.0, "title": "Fine", "text": "...", "images": [], "asin": "B081TJ8YS3",
         "parent_asin": "B08BZ63GMJ", "user_id": "AGKHLEW2SOWHNMFQIJGBECAF7INQ", "timestamp": 1588615855070,
         "helpful_vote": 1, "verified_purchase": True},
    ]  # fmt: skip
    meta = [
        {"main_category": "All Beauty", "title": "Howard LC0008 Leather Conditioner", "average_rating": 4.8,
         "categories": [], "store": "Howard Products", "parent_asin": "B00YQ6X8EO"},
        {"main_category": "All Beauty", "title": "Yes To Tomatoes", "categories": ["Beauty", "Skin Care"],
         "store": None, "parent_asin": "B08BZ63GMJ", "description": ["Daily cleanser.", "", "Gentle."]},
    ]  # fmt: skip
    path = write_gzip(tmp_path / "All_Beauty.jsonl.gz", [json.dumps(r) for r in reviews])
    interactions = read_amazon_2023_jsonl(
        path, write(tmp_path / "meta_All_Beauty.jsonl", [json.dumps(m) for m in meta])
    )
    assert interactions.item_ids[interactions.item].tolist() == ["B00YQ6X8EO", "B08BZ63GMJ"]
    assert np.array_equal(interactions.timestamp, [1588687728.923, 1588615855.070])
    assert tokens_of(interactions, "B00YQ6X8EO", "brand") == ["Howard Products"]
    assert tokens_of(interactions, "B08BZ63GMJ", "brand") == []
    assert tokens_of(interactions, "B08BZ63GMJ", "categories") == ["Beauty", "Skin Care"]
    assert interactions.item_features.text["title"][1:] == ["Howard LC0008 Leather Conditioner", "Yes To Tomatoes"]
    assert interactions.item_features.text["description"][1:] == ["", "Daily cleanser. Gentle."]


def test_ratings_csv_short_line_names_file_and_line(tmp_path):
    path = write(tmp_path / "ratings_Beauty.csv", ["A1,B1,5.0,1383523200", "A2,B2,4.0"])
    with pytest.raises(DataFormatError, match=r"ratings_Beauty\.csv, line 2: expected 4 columns"):
        read_amazon_ratings_csv(path)


def test_ratings_csv_non_numeric_timestamp_names_file_and_line(tmp_path):
    path = write_gzip(tmp_path / "ratings_Beauty.csv.gz", ["A1,B1,5.0,1383523200", "A2,B2,4.0,yesterday"])
    with pytest.raises(
        DataFormatError, match=r"ratings_Beauty\.csv\.gz, line 2: expected a finite number for timestamp"
    ):
        read_amazon_ratings_csv(path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"reviewerID": "A1", "asin": "B1", "overall": 5.0, "unixReviewTime": 13', "expected a JSON object"),
        ('{"reviewerID": "A1", "asin": "B1", "overall": 5.0}', "expected the key 'unixReviewTime'"),
        ('{"reviewerID": "A1", "asin": "B1", "overall": "five", "unixReviewTime": 1}', "finite number for overall"),
        (
            '{"reviewerID": null, "asin": "B1", "overall": 5.0, "unixReviewTime": 1}',
            "non-empty string for 'reviewerID'",
        ),
    ],
    ids=["truncated JSON", "missing key", "non-numeric rating", "null user id"],
)
def test_malformed_review_names_file_and_line(tmp_path, line, message):
    first = json.dumps(REVIEWS_2014[0])
    path = write_gzip(tmp_path / "reviews_Beauty_5.json.gz", [first, "", line])
    with pytest.raises(DataFormatError, match=rf"reviews_Beauty_5\.json\.gz, line 3: .*{message}"):
        read_amazon_5core(path)


def test_malformed_metadata_line_names_file_and_line(tmp_path):
    reviews = write_gzip(tmp_path / "reviews_Beauty_5.json.gz", [json.dumps(r) for r in REVIEWS_2014])
    meta = write_gzip(tmp_path / "meta_Beauty.json.gz", [META_2014[0], "{'asin': '7806397051', 'title': 'Cut"])
    with pytest.raises(
        DataFormatError, match=r"meta_Beauty\.json\.gz, line 2: expected a JSON object or a Python dict"
    ):
        read_amazon_5core(reviews, meta)


def test_2023_review_missing_parent_asin_names_file_and_line(tmp_path):
    path = write(tmp_path / "All_Beauty.jsonl", ['{"user_id": "U1", "asin": "B1", "rating": 5.0, "timestamp": 1}'])
    with pytest.raises(DataFormatError, match=r"All_Beauty\.jsonl, line 1: expected the key 'parent_asin'"):
        read_amazon_2023_jsonl(path)


def test_metadata_description_of_the_wrong_type_names_file_and_line(tmp_path):
    reviews = write_gzip(tmp_path / "reviews_Beauty_5.json.gz", [json.dumps(r) for r in REVIEWS_2014])
    meta = write_gzip(tmp_path / "meta_Beauty.json.gz", ["{'asin': '7806397051', 'description': 42}"])
    with pytest.raises(DataFormatError, match=r"meta_Beauty\.json\.gz, line 1: expected 'description' to be a string"):
        read_amazon_5core(reviews, meta)
