"""Malformed lines (`dynint/data/readers/_lines.py`): the first is named with their count, or, within
`malformed_lines_skipped`, they are dropped with a warning that counts them. Through real readers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dynint.data.readers import malformed_lines_skipped, read_amazon_2023_jsonl, read_recbole_atomic, read_s3rec
from dynint.errors import DataFormatError, DynintWarning

INTER = [
    "user_id:token\titem_id:token\trating:float\ttimestamp:float",
    "u1\ti1\t5\t100",
    "u1\ti2\t4",  # line 3: a column short
    "u2\ti1\t3\t300",
    "u2\ti2\tgood\t400",  # line 5: not a number
    "u3\ti1\t2\t500",
    "u3\ti2\t1\t600\textra",  # line 7: a column too many
]


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_a_table_names_its_first_malformed_line_and_counts_them_all(tmp_path):
    _write(tmp_path / "toy.inter", INTER)
    with pytest.raises(DataFormatError, match=r"toy\.inter, line 3: expected 4 columns .* found 3 \(3 malformed lines"):
        read_recbole_atomic(tmp_path, "toy")


def test_skipping_drops_the_malformed_lines_of_a_table_and_warns_with_their_count(tmp_path):
    _write(tmp_path / "toy.inter", INTER)
    with malformed_lines_skipped(), pytest.warns(DynintWarning, match=r"toy\.inter: skipped 3 malformed lines"):
        interactions = read_recbole_atomic(tmp_path, "toy")
    assert len(interactions) == 3
    np.testing.assert_array_equal(np.sort(interactions.timestamp), [100.0, 300.0, 500.0])


def test_a_bad_number_alone_is_named_as_the_only_malformed_line(tmp_path):
    _write(tmp_path / "toy.inter", INTER[:2] + INTER[4:6])
    with pytest.raises(DataFormatError, match=r"line 3: expected a finite number for rating, got 'good' \(the only"):
        read_recbole_atomic(tmp_path, "toy")


def test_json_lines_count_and_skip_lines_that_are_not_reviews(tmp_path):
    review = {"user_id": "u1", "parent_asin": "i1", "rating": 5.0, "timestamp": 1_000}
    lines = [
        json.dumps(review),
        "not json",  # line 2
        json.dumps({**review, "user_id": "u2"}),
        json.dumps({"user_id": "u3", "rating": 1.0, "timestamp": 2_000}),  # line 4: no item
        json.dumps({**review, "user_id": "u4", "rating": "five"}),  # line 5: rating not a number
    ]
    path = _write(tmp_path / "All_Beauty.jsonl", lines)
    with pytest.raises(DataFormatError, match=r"All_Beauty\.jsonl, line 2: expected a JSON object.*\(3 malformed"):
        read_amazon_2023_jsonl(path)
    with malformed_lines_skipped(), pytest.warns(DynintWarning, match=r"skipped 3 malformed lines \(the first, line 2"):
        interactions = read_amazon_2023_jsonl(path)
    assert sorted(interactions.user_ids.tolist()) == ["u1", "u2"]


def test_s3rec_sequences_count_and_skip_short_lines_and_bad_ids(tmp_path):
    path = _write(tmp_path / "Toy.txt", ["1 10 11 12", "2", "3 10 B00X", "4 11 12", "x 10"])
    with pytest.raises(DataFormatError, match=r"Toy\.txt, line 2: expected 'user item \[item ...\]'.*\(3 malformed"):
        read_s3rec(path)
    with malformed_lines_skipped(), pytest.warns(DynintWarning, match=r"skipped 3 malformed lines \(the first, line 2"):
        interactions = read_s3rec(path)
    assert sorted(interactions.user_ids.tolist()) == ["1", "4"] and len(interactions) == 5
