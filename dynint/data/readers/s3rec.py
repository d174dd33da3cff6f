"""The S3-Rec release (Zhou et al., CIKM 2020): `NAME.txt` sequences and `NAME_item2attributes.json`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dynint.data.interactions import Interactions
from dynint.data.readers._build import build_interactions, with_item_features
from dynint.data.readers._lines import parse_numbers, read_lines
from dynint.errors import DataFormatError


def read_s3rec(path: Path | str, attributes_path: Path | str | None = None) -> Interactions:
    """Lines `user item item ...` (integer ids, items in time order; no timestamps, so `has_timestamps=False`).

    Item attributes become token feature `attributes`, read from `attributes_path`, or when that is None
    from `NAME_item2attributes.json` beside `NAME.txt` if it exists.
    """
    path = Path(path)
    users, items, line_numbers, lengths = [], [], [], []
    for number, line in enumerate(read_lines(path), start=1):
        fields = line.split()
        if len(fields) == 1:
            raise DataFormatError(path, f"expected 'user item [item ...]' with at least one item, got {line!r}", number)
        if fields:
            users.append(fields[0])
            items.extend(fields[1:])
            line_numbers.append(number)
            lengths.append(len(fields) - 1)
    line_numbers = np.array(line_numbers, dtype=np.int64)
    user_ids = parse_numbers(path, users, line_numbers, np.int64, "user id")
    item_ids = parse_numbers(path, items, np.repeat(line_numbers, lengths), np.int64, "item id")
    interactions = build_interactions(path, np.repeat(user_ids, lengths), item_ids)
    if attributes_path is None:
        default = path.with_name(f"{path.stem}_item2attributes.json")
        attributes_path = default if default.exists() else None
    if attributes_path is None:
        return interactions
    return with_item_features(interactions, attributes_path, {"attributes": _read_attributes(attributes_path)}, {})


def _read_attributes(path: Path | str) -> dict[str, list[str]]:
    """`{"item": [attribute ids]}` -> attribute id strings by raw item id."""
    try:
        data = json.loads("\n".join(read_lines(path)))
    except json.JSONDecodeError as error:
        raise DataFormatError(path, f"expected a JSON object ({error.msg})", line=error.lineno) from None
    if not isinstance(data, dict):
        raise DataFormatError(path, f"expected a JSON object {{item: [attribute ids]}}, got {type(data).__name__}")
    for item, ids in data.items():
        if type(ids) is not list or not {type(i) for i in ids} <= {int}:
            raise DataFormatError(path, f"expected a list of integer attribute ids for item {item!r}, got {ids!r}")
    return {item: list(map(str, ids)) for item, ids in data.items()}
