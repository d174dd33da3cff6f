import numpy as np
import pytest

from dynint.data.ragged import Ragged
from dynint.eval.scorer import Scorer, score_candidates, score_items

USERS = np.array([0, 1])
HISTORIES = Ragged.from_rows([[1], [2, 3]])


class TableScorer:
    """Score of item i for user u is table[u, i]; counts the items it was asked to score."""

    def __init__(self, table: np.ndarray):
        self.table = table
        self.scored_items: list[np.ndarray] = []

    def score(self, users, histories, items):
        self.scored_items.append(items)
        return self.table[users][:, items]


class CandidateTableScorer(TableScorer):
    def score_candidates(self, users, histories, candidates):
        return -np.ones(candidates.shape)


TABLE = np.arange(12, dtype=np.float64).reshape(2, 6)


def test_a_class_with_a_score_method_is_a_scorer():
    assert isinstance(TableScorer(TABLE), Scorer)


def test_score_candidates_gathers_each_rows_items_from_one_scoring_of_their_union():
    scorer = TableScorer(TABLE)
    candidates = np.array([[5, 1, 3], [2, 5, 4]])
    scores = score_candidates(scorer, USERS, HISTORIES, candidates)
    np.testing.assert_array_equal(scores, [[5.0, 1.0, 3.0], [8.0, 11.0, 10.0]])
    assert len(scorer.scored_items) == 1
    np.testing.assert_array_equal(scorer.scored_items[0], [1, 2, 3, 4, 5])


def test_score_candidates_uses_the_scorers_own_method_when_it_has_one():
    scores = score_candidates(CandidateTableScorer(TABLE), USERS, HISTORIES, np.array([[1, 2], [3, 4]]))
    np.testing.assert_array_equal(scores, -np.ones((2, 2)))


class TransposedScorer(TableScorer):
    def score(self, users, histories, items):
        return super().score(users, histories, items).T


def test_score_items_rejects_a_wrongly_shaped_result():
    with pytest.raises(ValueError, match=r"TransposedScorer.score returned shape \(3, 2\); expected \(2, 3\)"):
        score_items(TransposedScorer(TABLE), USERS, HISTORIES, np.array([1, 2, 3]))


def test_score_items_rejects_nan_scores():
    table = TABLE.copy()
    table[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        score_items(TableScorer(table), USERS, HISTORIES, np.array([1, 2]))
