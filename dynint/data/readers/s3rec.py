"""The S3-Rec release (Zhou et al., CIKM 2020): `NAME.txt` sequences and `NAME_item2attributes.json`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dynint.data.interactions import Interactions
from dynint.data.readers._build import build_interactions, with_item_features
from dynint.data.readers._lines import number_problems, parse_numbers, read_lines, reject_lines
from dynint.errors import DataFormatError


def read_s3rec(path: Path | str, attributes_path: Path | str | None = None) -> Interactions:
    """Lines `user item item ...` (integer ids, items in time order; no timestamps, so `has_timestamps=False`).

    Item attributes become token feature `attributes`, read from `attributes_path`, or when that is None
    from `NAME_item2attributes.json` beside `NAME.txt` if it exists.
    """
    path = Path(path)
    rows = [(number, line, line.split()) for number, line in enumerate(read_lines(path), start=1)]
    rows = [row for row in rows if row[2]]
    bad: set[int] = set()
    problems: dict[int, str] = {}  # line -> what is wrong with it, for the first line of each kind of problem
    short = [(number, line) for number, line, fields in rows if len(fields) == 1]
    if short:
        bad.update(number for number, _ in short)
        problems[short[0][0]] = f"expected 'user item [item ...]' with at least one item, got {short[0][1]!r}"
    rows = [row for row in rows if len(row[2]) > 1]
    for what, values, lines in _id_columns(rows):
        wrong, problem = number_problems(values, np.int64, what)
        if len(wrong):
            bad.update(lines[wrong].tolist())
            problems.setdefault(int(lines[wrong[0]]), problem)
    if bad:
        reject_lines(path, sorted(bad), problems[min(problems)])
        rows = [row for row in rows if row[0] not in bad]
    (_, users, line_numbers), (_, items, item_lines) = _id_columns(rows)
    lengths = np.array([len(fields) - 1 for _, _, fields in rows], dtype=np.int64)
    user_ids = parse_numbers(path, users, line_numbers, np.int64, "user id")
    item_ids = parse_numbers(path, items, item_lines, np.int64, "item id")
    interactions = build_interactions(path, np.repeat(user_ids, lengths), item_ids)
    if attributes_path is None:
        default = path.with_name(f"{path.stem}_item2attributes.json")
        attributes_path = default if default.exists() else None
    if attributes_path is None:
        return interactions
    return with_item_features(interactions, attributes_path, {"attributes": _read_attributes(attributes_path)}, {})


def _id_columns(rows: list[tuple[int, str, list[str]]]) -> list[tuple[str, list[str], np.ndarray]]:
    """The user ids and the item ids of `rows` (line number, line, fields), each with its lines."""
    numbers = np.array([number for number, _, _ in rows], dtype=np.int64)
    lengths = np.array([len(fields) - 1 for _, _, fields in rows], dtype=np.int64)
    users = [fields[0] for _, _, fields in rows]
    items = [item for _, _, fields in rows for item in fields[1:]]
    return [("user id", users, numbers), ("item id", items, np.repeat(numbers, lengths))]


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
