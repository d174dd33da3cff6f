"""Amazon review data (McAuley et al.): the 2014 rating CSVs and 5-core reviews, and the 2023 JSON lines.

Metadata, when given, yields token features `categories` and `brand` and text `title` and `description`;
`.gz` files are read as they are.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from dynint.data.interactions import Interactions
from dynint.data.readers._build import build_interactions, with_item_features
from dynint.data.readers._lines import (
    number_problems,
    parse_numbers,
    read_json_lines,
    read_table,
    require_key,
)
from dynint.errors import DataFormatError


def read_amazon_ratings_csv(path: Path | str) -> Interactions:
    """2014 `ratings_CATEGORY.csv`: no header, lines `user,item,rating,timestamp` (Unix seconds)."""
    numeric = {"rating": np.float64, "timestamp": np.float64}
    table = read_table(path, ",", ["user", "item", "rating", "timestamp"], numeric=numeric)
    return build_interactions(
        path, table.columns["user"], table.columns["item"], table.numbers("timestamp"), table.numbers("rating")
    )


def read_amazon_5core(reviews_path: Path | str, meta_path: Path | str | None = None) -> Interactions:
    """2014 `reviews_CATEGORY_5.json.gz` (keys reviewerID, asin, overall, unixReviewTime) and optional
    `meta_CATEGORY.json.gz`, whose lines are Python dict literals (asin, title, brand, categories, description)."""
    interactions = _read_reviews(reviews_path, ("reviewerID", "asin", "overall", "unixReviewTime"), 1)
    if meta_path is None:
        return interactions
    return _with_meta(interactions, meta_path, item_key="asin", brand_key="brand")


def read_amazon_2023_jsonl(path: Path | str, meta_path: Path | str | None = None) -> Interactions:
    """2023 reviews `CATEGORY.jsonl[.gz]` (user_id, parent_asin, rating, timestamp in milliseconds, stored
    as seconds) and optional `meta_CATEGORY.jsonl[.gz]` (parent_asin, title, categories, store as brand,
    description as a list of paragraphs)."""
    interactions = _read_reviews(path, ("user_id", "parent_asin", "rating", "timestamp"), 1000)
    if meta_path is None:
        return interactions
    return _with_meta(interactions, meta_path, item_key="parent_asin", brand_key="store")


def _read_reviews(path: Path | str, keys: tuple[str, str, str, str], units_per_second: int) -> Interactions:
    """One review object per line; `keys` name the user, item, rating and time fields. A line
    without them is malformed (see `read_json_lines`)."""
    user_key, item_key, rating_key, time_key = keys
    users, items, ratings, times, line_numbers = [], [], [], [], []
    for number, record in read_json_lines(path, check=partial(_review_problem, keys=keys)):
        users.append(record[user_key])
        items.append(record[item_key])
        ratings.append(record[rating_key])
        times.append(record[time_key])
        line_numbers.append(number)
    line_numbers = np.array(line_numbers, dtype=np.int64)
    rating = parse_numbers(path, ratings, line_numbers, np.float64, rating_key)
    timestamp = parse_numbers(path, times, line_numbers, np.float64, time_key) / units_per_second
    return build_interactions(path, users, items, timestamp, rating)


def _review_problem(record: dict, keys: tuple[str, str, str, str]) -> str | None:
    """What is wrong with a review object whose fields are named by `keys`, or None."""
    for key in keys:
        if key not in record:
            return f"expected the key {key!r}, found keys {sorted(record)}"
    for key in keys[:2]:
        if not isinstance(record[key], str) or not record[key]:
            return f"expected a non-empty string for {key!r}, got {record[key]!r}"
    for key in keys[2:]:
        problem = number_problems([record[key]], np.float64, key)[1]
        if problem:
            return problem
    return None


def _with_meta(interactions: Interactions, path: Path | str, item_key: str, brand_key: str) -> Interactions:
    """Attach categories (flattened, first occurrence kept), brand, title and description of the items that
    have events."""
    known = set(interactions.item_ids[1:].tolist())
    categories, brands, titles, descriptions = {}, {}, {}, {}
    for number, record in read_json_lines(path, python_literals=True):
        item = _require_string(path, number, record, item_key)
        if item not in known:
            continue
        categories[item] = list(dict.fromkeys(_flatten_categories(path, number, record.get("categories") or [])))
        brand = record.get(brand_key)
        if isinstance(brand, str) and brand.strip():
            brands[item] = [brand.strip()]
        title = record.get("title")
        if isinstance(title, str):
            titles[item] = title
        description = _description(path, number, record.get("description"))
        if description:
            descriptions[item] = description
    text = {"title": titles, "description": descriptions}
    return with_item_features(interactions, path, {"categories": categories, "brand": brands}, text)


def _description(path: Path | str, line: int, description: Any) -> str:
    """2014 metadata has one string, 2023 metadata a list of paragraphs (joined by spaces); absent is ""."""
    paragraphs = description if isinstance(description, list) else [description or ""]
    if not all(isinstance(paragraph, str) for paragraph in paragraphs):
        raise DataFormatError(
            path, f"expected 'description' to be a string or a list of strings, got {description!r}", line
        )
    return " ".join(paragraph.strip() for paragraph in paragraphs if paragraph.strip())


def _flatten_categories(path: Path | str, line: int, categories: Any) -> list[str]:
    """2014 metadata has a list of category paths (lists of strings); 2023 metadata a list of strings."""
    flat = []
    for entry in categories if isinstance(categories, list) else [categories]:
        names = entry if isinstance(entry, list) else [entry]
        if not all(isinstance(name, str) for name in names):
            raise DataFormatError(
                path, f"expected 'categories' to hold strings or lists of strings, got {entry!r}", line
            )
        flat.extend(names)
    return flat


def _require_string(path: Path | str, line: int, record: dict, key: str) -> str:
    value = require_key(path, line, record, key)
    if not isinstance(value, str) or not value:
        raise DataFormatError(path, f"expected a non-empty string for {key!r}, got {value!r}", line)
    return value
