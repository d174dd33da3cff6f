"""RecBole atomic files: tab-separated `NAME.inter` and `NAME.item` with a typed `field:type` header."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dynint.data.interactions import Interactions
from dynint.data.readers._build import build_interactions, with_item_features
from dynint.data.readers._lines import Table, read_lines, split_table
from dynint.errors import DataFormatError

FIELD_TYPES = ("token", "token_seq", "float", "float_seq")
# Text features take the name `title` across readers, whichever field name the source uses.
TEXT_NAMES = {"movie_title": "title"}


def read_recbole_atomic(directory: Path | str, name: str) -> Interactions:
    """Events from `directory/NAME.inter` (fields `user_id`, `item_id`, optional `timestamp`, `rating`).

    From `NAME.item`, when present: `movie_title` / `title` (and any token_seq field whose name contains
    "title") becomes text `title` (the title's words, space-separated); every other token or token_seq
    field becomes a token feature. `NAME.user` holds user features, which `Interactions` has no place for.
    """
    directory = Path(directory)
    inter_path = directory / f"{name}.inter"
    inter, inter_types = _read_atomic(inter_path, required=("user_id", "item_id"))
    interactions = build_interactions(
        inter_path,
        inter.columns["user_id"],
        inter.columns["item_id"],
        inter.numbers("timestamp") if "timestamp" in inter_types else None,
        inter.numbers("rating") if "rating" in inter_types else None,
    )
    item_path = directory / f"{name}.item"
    if not item_path.exists():
        return interactions
    items, item_types = _read_atomic(item_path, required=("item_id",))
    raw_items = items.columns["item_id"]
    tokens, text = {}, {}
    for field, kind in item_types.items():
        values = items.columns[field]
        if field in ("movie_title", "title") or (kind == "token_seq" and "title" in field):
            text[TEXT_NAMES.get(field, field)] = dict(zip(raw_items, values, strict=True))
        elif kind == "token" and field != "item_id":
            tokens[field] = {raw: [value] for raw, value in zip(raw_items, values, strict=True) if value}
        elif kind == "token_seq":
            tokens[field] = {raw: value.split() for raw, value in zip(raw_items, values, strict=True) if value}
    return with_item_features(interactions, item_path, tokens, text)


def _read_atomic(path: Path, required: tuple[str, ...]) -> tuple[Table, dict[str, str]]:
    """The table of an atomic file and its field types, checking the header names `required` fields."""
    lines = read_lines(path)
    header = lines[0] if lines else ""
    types = {}
    for column in header.split("\t"):
        field, _, kind = column.rpartition(":")
        if not field or kind not in FIELD_TYPES:
            raise DataFormatError(
                path, f"expected header fields 'name:type' with type one of {', '.join(FIELD_TYPES)}, got {header!r}", 1
            )
        types[field] = kind
    for field in required:
        if field not in types:
            raise DataFormatError(path, f"the header {header!r} has no {field!r} field (expected {field}:token)", 1)
    numeric = {field: np.float64 for field in ("timestamp", "rating") if types.get(field) == "float"}
    return split_table(path, lines[1:], "\t", list(types), first_line=2, numeric=numeric), types
