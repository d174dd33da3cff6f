"""`read_sasrec` on the real Beauty sequences rewritten one event per line, and on files with errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dynint.data.readers import read_s3rec, read_sasrec
from dynint.errors import DataFormatError


def test_beauty_as_sasrec_lines_reads_like_the_s3rec_file(shared_data, tmp_path):
    source = shared_data / "amazon-beauty" / "Beauty.txt"
    lines = []
    for line in source.read_text().splitlines():
        user, *items = line.split()
        lines += [f"{user} {item}\n" for item in items]
    path = tmp_path / "Beauty.txt"
    path.write_text("".join(lines))
    sasrec, s3rec = read_sasrec(path), read_s3rec(source)
    assert (sasrec.num_users, sasrec.num_items, len(sasrec)) == (22363, 12101, 198502)
    assert not sasrec.has_timestamps and sasrec.rating is None
    for name in ("user", "item", "timestamp", "user_ids", "item_ids"):
        assert np.array_equal(getattr(sasrec, name), getattr(s3rec, name)), name


def test_order_within_each_user_is_the_file_order(tmp_path):
    path = tmp_path / "toy.txt"
    path.write_text("2 5\n1 7\n2 3\n1 5\n2 9\n")
    interactions = read_sasrec(path)
    assert interactions.timestamp.tolist() == [0, 0, 1, 1, 2]
    sequences, _ = interactions.user_sequences()
    assert [interactions.item_ids[row].tolist() for row in sequences] == [["7", "5"], ["5", "3", "9"]]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("1 2\n1 3 4\n", 2, "expected 2 columns"),
        ("1 2\n\n1\n", 3, "expected 2 columns"),
        ("1 2\nu9 3\n", 2, "expected an integer for user, got 'u9'"),
        ("1 2\n1 3.5\n", 2, "expected an integer for item, got '3.5'"),
    ],
    ids=["extra column", "truncated line after a blank line", "non-integer user", "non-integer item"],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, text: str, line: int, message: str):
    path = tmp_path / "toy.txt"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=rf"toy\.txt, line {line}: {message}"):
        read_sasrec(path)


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "toy.txt"
    path.write_text("")
    with pytest.raises(DataFormatError, match=r"toy\.txt: expected at least one interaction"):
        read_sasrec(path)
