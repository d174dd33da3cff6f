import numpy as np

from baselines.base import FitData
from baselines.pop import PopRec, PopRecConfig
from dynint.data.ragged import Ragged


def test_poprec_scores_are_counts_over_the_visible_events_only():
    visible = Ragged.from_rows([[1, 2, 2], [2, 3]])
    model = PopRec(PopRecConfig()).fit(FitData(sequences=visible, num_users=2, num_items=4))
    scores = model.score(np.array([0, 1]), visible, np.array([0, 1, 2, 3, 4]))
    np.testing.assert_array_equal(scores, [[0, 1, 3, 1, 0], [0, 1, 3, 1, 0]])


def test_poprec_scores_pairs_by_the_item_counts():
    visible = Ragged.from_rows([[1, 2, 2], [2, 3]])
    model = PopRec(PopRecConfig()).fit(FitData(sequences=visible, num_users=2, num_items=4))
    pairs = model.score_pairs(np.array([0, 1, 1]), visible.take([0, 1, 1]), np.array([2, 4, 1]))
    np.testing.assert_array_equal(pairs, [3, 0, 1])
