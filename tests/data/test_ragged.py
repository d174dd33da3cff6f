"""`dynint.data.ragged`: variable-length rows as flat values plus offsets."""

from __future__ import annotations

import numpy as np
import pytest

from dynint.data.ragged import Ragged


def _rows() -> Ragged:
    return Ragged.from_rows([[1, 2, 3], [], [4], [5, 6]])


def test_from_rows_round_trips_every_row() -> None:
    ragged = _rows()
    assert len(ragged) == 4
    assert [row.tolist() for row in ragged] == [[1, 2, 3], [], [4], [5, 6]]
    assert ragged.offsets.tolist() == [0, 3, 3, 4, 6]
    assert ragged.lengths.tolist() == [3, 0, 1, 2]


def test_from_lengths_matches_from_rows() -> None:
    ragged = Ragged.from_lengths(np.array([1, 2, 3, 4, 5, 6]), np.array([3, 0, 1, 2]))
    assert [row.tolist() for row in ragged] == [row.tolist() for row in _rows()]


def test_row_ids_label_every_value_with_its_row() -> None:
    assert _rows().row_ids().tolist() == [0, 0, 0, 2, 3, 3]


def test_take_reorders_repeats_and_keeps_empty_rows() -> None:
    taken = _rows().take(np.array([3, 1, 0, 3]))
    assert [row.tolist() for row in taken] == [[5, 6], [], [1, 2, 3], [5, 6]]


def test_take_of_no_rows_is_empty() -> None:
    taken = _rows().take(np.array([], dtype=np.int64))
    assert len(taken) == 0 and len(taken.values) == 0


def test_to_padded_keeps_the_most_recent_values_right_aligned() -> None:
    padded = _rows().to_padded(2, pad_value=0)
    assert padded.tolist() == [[2, 3], [0, 0], [0, 4], [5, 6]]


def test_to_padded_left_aligned() -> None:
    padded = _rows().to_padded(4, pad_value=-1, align="left")
    assert padded.tolist() == [[1, 2, 3, -1], [-1, -1, -1, -1], [4, -1, -1, -1], [5, 6, -1, -1]]


def test_to_padded_rejects_an_unknown_alignment() -> None:
    with pytest.raises(ValueError, match="align"):
        _rows().to_padded(2, align="center")


def test_empty_ragged_has_no_rows() -> None:
    empty = Ragged.from_rows([])
    assert len(empty) == 0 and empty.offsets.tolist() == [0]
    assert empty.to_padded(3).shape == (0, 3)


@pytest.mark.parametrize(
    ("values", "offsets", "message"),
    [
        (np.arange(3), np.array([1, 3]), "starting at 0"),
        (np.arange(3), np.array([0, 2]), "offsets end at 2"),
        (np.arange(3), np.zeros((1, 1), dtype=np.int64), "1-D"),
    ],
)
def test_inconsistent_offsets_are_rejected(values: np.ndarray, offsets: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Ragged(values, offsets)
