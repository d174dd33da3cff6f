import numpy as np
import pytest

from dynint.data.ragged import Ragged
from dynint.data.splits import EvalSet
from dynint.eval.negatives import sample_negatives
from dynint.eval.protocols import RankingProtocol
from dynint.eval.ranking import evaluate_ranking, full_ranking_ranks, sampled_ranking_ranks
from dynint.eval.ranking_metrics import ranking_metrics


class TableScorer:
    """Fixed scores: item `i` scores `table[user, i]`."""

    def __init__(self, table: np.ndarray):
        self.table = np.asarray(table, dtype=np.float64)

    def score(self, users, histories, items):
        return self.table[users][:, items]


class PopularityHashScorer:
    """History popularity plus a (user, item) hash in {0, 1/4, 1/2}: exact floats, with many ties
    that differ between users, so rows mixed up across a batch would show."""

    def __init__(self, eval_set: EvalSet, num_items: int):
        popularity = np.bincount(eval_set.histories.values, minlength=num_items + 1).astype(np.float64)
        ids = np.arange(num_items + 1)
        self.table = np.stack([popularity + ((7 * ids + shift) % 3) / 4 for shift in range(3)])

    def score(self, users, histories, items):
        return self.table[:, items][users % 3]


def make_eval_set(users, targets, histories) -> EvalSet:
    return EvalSet(np.array(users), np.array(targets), Ragged.from_rows(histories), np.zeros(len(users)))


# Six items. Row 0: user 0, target 3, history [1, 5]. Row 1: user 1, target 2, history [2, 4] (the
# target was seen before: it is still ranked).
TINY = make_eval_set([0, 1], [3, 2], [[1, 5], [2, 4]])
TINY_SCORES = np.array(
    [
        # item: 0    1     2    3    4    5     6
        [0.0, 0.9, 0.5, 0.5, 0.7, 0.95, 0.5],
        [0.0, 0.1, 0.6, 0.6, 0.8, 0.2, 0.6],
    ]
)


@pytest.mark.parametrize("batch_size", [1, 2])
@pytest.mark.parametrize("item_chunk_size", [None, 1, 2, 4])
def test_full_ranking_excludes_seen_items_but_never_the_target_and_breaks_ties_by_item_id(batch_size, item_chunk_size):
    # Row 0 (target 3 scores 0.5; items 1, 5 seen): item 4 (0.7) is above, item 2 ties with a lower id,
    # item 6 ties with a higher id -> rank 2.
    # Row 1 (target 2 scores 0.6; item 4 seen, item 2 seen but the target): items 3 and 6 tie with
    # higher ids -> rank 0.
    ranks = full_ranking_ranks(
        TableScorer(TINY_SCORES), TINY, 6, batch_size=batch_size, item_chunk_size=item_chunk_size, progress=False
    )
    np.testing.assert_array_equal(ranks, [2, 0])


def test_full_ranking_without_exclusion_counts_seen_items():
    # Row 0 adds items 1 (0.9) and 5 (0.95) -> rank 4; row 1 adds item 4 (0.8) -> rank 1.
    ranks = full_ranking_ranks(TableScorer(TINY_SCORES), TINY, 6, exclude_seen=False, progress=False)
    np.testing.assert_array_equal(ranks, [4, 1])


def brute_force_ranks(scores: np.ndarray, eval_set: EvalSet, num_items: int, exclude_seen: bool) -> np.ndarray:
    """Sort each row's candidates by (score descending, item id ascending); the target's position."""
    ranks = []
    for row in range(len(eval_set)):
        target, seen = eval_set.targets[row], set(eval_set.histories[row].tolist()) if exclude_seen else set()
        candidates = [i for i in range(1, num_items + 1) if i == target or i not in seen]
        order = sorted(candidates, key=lambda i: (-scores[row, i], i))
        ranks.append(order.index(target))
    return np.array(ranks)


@pytest.mark.parametrize("exclude_seen", [True, False])
def test_full_ranking_equals_a_brute_force_sort_on_random_scores_with_ties(exclude_seen):
    rng = np.random.default_rng(0)
    num_items, num_rows = 30, 60
    scores = rng.integers(0, 4, size=(num_rows, num_items + 1)).astype(np.float64)
    histories = [
        rng.choice(np.arange(1, num_items + 1), size=rng.integers(0, 12), replace=False) for _ in range(num_rows)
    ]
    eval_set = make_eval_set(np.arange(num_rows), rng.integers(1, num_items + 1, size=num_rows), histories)
    expected = brute_force_ranks(scores, eval_set, num_items, exclude_seen)
    for item_chunk_size in (None, 7):
        ranks = full_ranking_ranks(
            TableScorer(scores),
            eval_set,
            num_items,
            exclude_seen=exclude_seen,
            batch_size=16,
            item_chunk_size=item_chunk_size,
            progress=False,
        )
        np.testing.assert_array_equal(ranks, expected)


def test_full_ranking_rejects_nan_scores():
    scores = TINY_SCORES.copy()
    scores[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        full_ranking_ranks(TableScorer(scores), TINY, 6, progress=False)


def test_full_ranking_rejects_targets_outside_the_items():
    with pytest.raises(ValueError, match="target 0"):
        full_ranking_ranks(TableScorer(TINY_SCORES), make_eval_set([0], [0], [[1]]), 6, progress=False)


def test_progress_bar_stays_silent_when_stderr_is_not_a_terminal(capsys):
    full_ranking_ranks(TableScorer(TINY_SCORES), TINY, 6, batch_size=1)
    assert capsys.readouterr().err == ""


# Real data: Amazon Beauty, last item of each user as target.


@pytest.fixture(scope="module")
def beauty_scorer(beauty) -> PopularityHashScorer:
    return PopularityHashScorer(*beauty)


@pytest.fixture(scope="module")
def beauty_reference_ranks(beauty, beauty_scorer) -> np.ndarray:
    eval_set, num_items = beauty
    return full_ranking_ranks(beauty_scorer, eval_set, num_items, progress=False)


def test_full_ranking_on_real_data_equals_a_brute_force_sort(beauty, beauty_scorer, beauty_reference_ranks):
    eval_set, num_items = beauty
    rows = np.arange(0, len(eval_set), 997)
    scores = beauty_scorer.score(eval_set.users[rows], eval_set.histories.take(rows), np.arange(num_items + 1))
    expected = brute_force_ranks(scores, eval_set.take(rows), num_items, exclude_seen=True)
    np.testing.assert_array_equal(beauty_reference_ranks[rows], expected)


# Small batch sizes run on a spread-out subset of rows to keep the test fast.
ROW_STRIDE = {1: 211, 7: 53, 256: 5, 4096: 5}


@pytest.mark.parametrize("batch_size", [1, 7, 256, 4096])
@pytest.mark.parametrize("item_chunk_size", [None, 1000, 333])
def test_full_ranking_ranks_do_not_depend_on_batch_or_item_chunk_size(
    beauty, beauty_scorer, beauty_reference_ranks, batch_size, item_chunk_size
):
    eval_set, num_items = beauty
    rows = np.arange(0, len(eval_set), ROW_STRIDE[batch_size])
    ranks = full_ranking_ranks(
        beauty_scorer,
        eval_set.take(rows),
        num_items,
        batch_size=batch_size,
        item_chunk_size=item_chunk_size,
        progress=False,
    )
    np.testing.assert_array_equal(ranks, beauty_reference_ranks[rows])


@pytest.mark.parametrize("batch_size, item_chunk_size", [(7, 333), (4096, 1000)])
def test_full_ranking_metrics_do_not_depend_on_batch_or_item_chunk_size(
    beauty, beauty_scorer, beauty_reference_ranks, batch_size, item_chunk_size
):
    eval_set, num_items = beauty
    rows = np.arange(0, len(eval_set), ROW_STRIDE[batch_size])
    protocol = RankingProtocol(ks=(1, 10, 50), batch_size=batch_size, item_chunk_size=item_chunk_size)
    metrics = evaluate_ranking(beauty_scorer, eval_set.take(rows), num_items, protocol, progress=False)
    assert metrics == ranking_metrics(beauty_reference_ranks[rows], (1, 10, 50), users=eval_set.users[rows])


@pytest.fixture(scope="module")
def beauty_negatives(beauty) -> np.ndarray:
    eval_set, num_items = beauty
    return sample_negatives(eval_set, num_items, num_negatives=100, seed=0)


def test_sampled_negatives_exclude_the_target_the_history_and_padding(beauty, beauty_negatives):
    eval_set, num_items = beauty
    assert beauty_negatives.shape == (len(eval_set), 100)
    assert beauty_negatives.min() >= 1 and beauty_negatives.max() <= num_items
    assert not (beauty_negatives == eval_set.targets[:, None]).any()
    stride = num_items + 1
    seen = eval_set.histories.row_ids() * stride + eval_set.histories.values
    drawn = np.arange(len(eval_set))[:, None] * stride + beauty_negatives
    assert not np.isin(drawn, seen).any()


def test_sampled_negatives_are_distinct_within_each_row(beauty_negatives):
    ordered = np.sort(beauty_negatives, axis=1)
    assert not (ordered[:, 1:] == ordered[:, :-1]).any()


def test_sample_negatives_repeats_for_a_seed_and_changes_with_the_seed(beauty):
    eval_set, num_items = beauty
    head = eval_set.take(np.arange(2000))
    first = sample_negatives(head, num_items, 100, seed=3)
    np.testing.assert_array_equal(first, sample_negatives(head, num_items, 100, seed=3))
    assert (first != sample_negatives(head, num_items, 100, seed=4)).mean() > 0.9


@pytest.mark.parametrize("batch_size", [1, 7, 256, 4096])
def test_sampled_ranking_ranks_do_not_depend_on_batch_size(beauty, beauty_scorer, beauty_negatives, batch_size):
    eval_set, _ = beauty
    rows = np.arange(0, len(eval_set), ROW_STRIDE[batch_size])
    reference = sampled_ranking_ranks(beauty_scorer, eval_set.take(rows), beauty_negatives[rows], progress=False)
    ranks = sampled_ranking_ranks(
        beauty_scorer, eval_set.take(rows), beauty_negatives[rows], batch_size=batch_size, progress=False
    )
    np.testing.assert_array_equal(ranks, reference)


def test_sampled_ranking_breaks_ties_by_item_id():
    # Row 0, target 3 (0.5) vs negatives 6 (0.5, higher id), 2 (0.5, lower id), 4 (0.7) -> rank 2.
    # Row 1, target 2 (0.6) vs negatives 4 (0.8), 3 (0.6, higher id), 1 (0.1) -> rank 1.
    negatives = np.array([[6, 2, 4], [4, 3, 1]])
    ranks = sampled_ranking_ranks(TableScorer(TINY_SCORES), TINY, negatives, batch_size=1, progress=False)
    np.testing.assert_array_equal(ranks, [2, 1])


def test_sampled_ranking_rejects_negatives_containing_the_target():
    with pytest.raises(ValueError, match="row 1"):
        sampled_ranking_ranks(TableScorer(TINY_SCORES), TINY, np.array([[6, 2], [4, 2]]), progress=False)


def test_sample_negatives_raises_when_a_row_has_too_few_items_left():
    eval_set = make_eval_set([0, 1], [2, 4], [[1], [1, 2, 3]])
    with pytest.raises(ValueError, match=r"row 1 \(user 1\) has only 1 items left"):
        sample_negatives(eval_set, 5, num_negatives=2, seed=0)


def test_sample_negatives_completes_rows_that_have_almost_every_item_seen():
    # Row 0 has seen 196 of 200 items (acceptance 2%, so it takes the exact fallback); row 1 is ordinary.
    nearly_all = [i for i in range(1, 201) if i not in (197, 198, 199, 200)]
    eval_set = make_eval_set([0, 1], [10, 10], [nearly_all, [1, 2]])
    negatives = sample_negatives(eval_set, 200, num_negatives=3, seed=0)
    assert set(negatives[0]) <= {197, 198, 199, 200} and len(set(negatives[0])) == 3
    assert len(set(negatives[1]) - {1, 2, 10}) == 3


def test_popularity_sampling_draws_only_popular_items_and_favours_the_most_popular():
    # Odd items have popularity 0; item 2 outweighs the other 24 even items 1000 to 1.
    num_items, num_rows = 50, 400
    popularity = np.where(np.arange(num_items + 1) % 2 == 0, 1.0, 0.0)
    popularity[2] = 1000.0
    eval_set = make_eval_set(np.arange(num_rows), np.full(num_rows, 1), [[] for _ in range(num_rows)])
    negatives = sample_negatives(eval_set, num_items, num_negatives=5, seed=0, popularity=popularity)
    assert (negatives % 2 == 0).all()
    assert (negatives == 2).any(axis=1).mean() > 0.95
    # each weight-1 item: roughly 4 of the 24 slots left -> about 1/6 of rows
    assert (negatives == 4).any(axis=1).mean() < 0.4


def test_evaluate_ranking_sampled_protocol_equals_sampled_ranks_on_seeded_negatives():
    protocol = RankingProtocol(kind="sampled", ks=(1, 2), num_negatives=3, seed=5)
    negatives = sample_negatives(TINY, 6, num_negatives=3, seed=5)
    ranks = sampled_ranking_ranks(TableScorer(TINY_SCORES), TINY, negatives, progress=False)
    expected = ranking_metrics(ranks, (1, 2), users=TINY.users)
    assert evaluate_ranking(TableScorer(TINY_SCORES), TINY, 6, protocol, progress=False) == expected


def test_evaluate_ranking_popularity_sampling_needs_the_popularity_array():
    protocol = RankingProtocol(kind="sampled", num_negatives=2, negative_sampling="popularity")
    with pytest.raises(ValueError, match="popularity"):
        evaluate_ranking(TableScorer(TINY_SCORES), TINY, 6, protocol, progress=False)
