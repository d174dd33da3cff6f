"""Top-k lists: the best items per row, history excluded, ties to the lower id."""

import numpy as np
import pytest

from dynint.data.ragged import Ragged
from dynint.data.splits import EvalSet
from dynint.eval.top_k import top_k_lists


class _FixedScores:
    """Scores each item by a fixed table, the same for every row."""

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=np.float32)

    def score(self, users, histories, items):
        return np.tile(self.scores[items], (len(users), 1))


def _rows(histories):
    count = len(histories)
    return EvalSet(np.arange(count), np.ones(count, dtype=np.int64), Ragged.from_rows(histories), np.zeros(count))


def test_lists_are_best_first_with_ties_to_the_lower_id_and_seen_items_left_out():
    #            item: 0    1    2    3    4    5
    scorer = _FixedScores([0.0, 0.5, 0.9, 0.5, 0.9, 0.1])
    rows = _rows([[], [2], [4, 1]])
    lists = top_k_lists(scorer, rows, 5, 3, progress=False)
    np.testing.assert_array_equal(lists, [[2, 4, 1], [4, 1, 3], [2, 3, 5]])
    with_seen = top_k_lists(scorer, rows, 5, 3, exclude_seen=False, progress=False)
    np.testing.assert_array_equal(with_seen, [[2, 4, 1]] * 3)


def test_k_beyond_the_catalogue_is_refused():
    with pytest.raises(ValueError, match="k=6"):
        top_k_lists(_FixedScores(np.zeros(6)), _rows([[1]]), 5, 6, progress=False)
