import numpy as np
import pytest

from dynint.data.ragged import Ragged
from dynint.data.splits import EvalSet
from dynint.eval.protocols import RankingProtocol
from dynint.eval.ranking import evaluate_ranking
from dynint.models.base import ClozeObjective, NextItemObjective
from dynint.train.scoring import SequenceScorer, query_windows
from tests.models.tiny_models import MAX_LENGTH, NUM_ITEMS, forward, tiny_model

BUCKETS = (4, MAX_LENGTH)


def _eval_set(seed=0, rows=40):
    rng = np.random.default_rng(seed)
    histories = Ragged.from_rows([rng.integers(1, NUM_ITEMS + 1, size=n) for n in rng.integers(1, 12, size=rows)])
    return EvalSet(np.arange(rows), rng.integers(1, NUM_ITEMS + 1, size=rows), histories, np.zeros(rows))


def _scorer(rows_per_call=16, name="sasrec"):
    graphdef, params = tiny_model(name)
    objective = NextItemObjective() if name != "bert4rec" else ClozeObjective(0.2, NUM_ITEMS + 1)
    return SequenceScorer(
        graphdef, params, objective, max_length=MAX_LENGTH, buckets=BUCKETS, rows_per_call=rows_per_call
    )


def test_scores_are_the_last_history_position_against_the_item_table():
    eval_set = _eval_set()
    scorer = _scorer()
    items = np.array([3, 1, 30])
    scores = scorer.score(eval_set.users, eval_set.histories, items)
    windows = query_windows(eval_set.histories, NextItemObjective(), MAX_LENGTH)
    inputs = np.zeros((len(windows), MAX_LENGTH), dtype=np.int32)
    for row, window in enumerate(windows):
        inputs[row, : len(window)] = window
    hidden = np.asarray(forward(scorer.graphdef, scorer.params, inputs))[np.arange(len(windows)), windows.lengths - 1]
    np.testing.assert_allclose(scores, hidden @ np.asarray(scorer.table)[items].T, atol=1e-5)


def test_metrics_do_not_depend_on_evaluation_batch_size_or_rows_per_call():
    eval_set = _eval_set()
    results = [
        evaluate_ranking(_scorer(rows), eval_set, NUM_ITEMS, RankingProtocol(batch_size=size), progress=False)
        for size, rows in ((7, 8), (40, 64))
    ]
    assert results[0] == pytest.approx(results[1], abs=1e-12)


def test_precomputed_rows_are_reused_and_changed_histories_are_encoded_afresh():
    eval_set = _eval_set()
    scorer = _scorer()
    expected = scorer.score(eval_set.users, eval_set.histories, np.arange(1, NUM_ITEMS + 1))
    scorer.precompute(eval_set.users, eval_set.histories)
    np.testing.assert_allclose(
        scorer.score(eval_set.users, eval_set.histories, np.arange(1, NUM_ITEMS + 1)), expected, atol=1e-5
    )
    other = _eval_set(seed=1, rows=10)  # same user ids, different histories
    fresh = _scorer().score(other.users, other.histories, np.arange(1, NUM_ITEMS + 1))
    np.testing.assert_allclose(
        scorer.score(other.users, other.histories, np.arange(1, NUM_ITEMS + 1)), fresh, atol=1e-5
    )


def test_cloze_queries_end_with_the_mask_token_after_the_most_recent_items():
    histories = Ragged.from_rows([np.arange(1, 12), [5]])
    windows = query_windows(histories, ClozeObjective(0.2, mask_token=99), max_length=4)
    assert [list(w) for w in windows] == [[9, 10, 11, 99], [5, 99]]


def test_empty_histories_are_scored():
    scorer = _scorer()
    scores = scorer.score(np.array([0, 1]), Ragged.from_rows([[], [3]]), np.array([1, 2]))
    assert scores.shape == (2, 2) and np.isfinite(scores).all()
