import numpy as np

from baselines.base import FitData
from baselines.unseen_random import UnseenRandom, UnseenRandomConfig
from dynint.data.ragged import Ragged


def _fitted(seed: int = 0) -> UnseenRandom:
    visible = Ragged.from_rows([[1, 2, 2], [2, 3]])
    return UnseenRandom(UnseenRandomConfig(seed=seed)).fit(FitData(sequences=visible, num_users=2, num_items=7))


def test_items_without_visible_events_outrank_every_seen_item():
    scores = _fitted().score(np.array([0]), Ragged.from_rows([[1]]), np.arange(8))[0]
    unseen, seen = scores[[4, 5, 6, 7]], scores[[1, 2, 3]]
    assert unseen.min() > seen.max() and scores[0] < seen.min()


def test_the_order_within_each_group_is_drawn_per_user_from_the_seed():
    history = Ragged.from_rows([[1]])
    order = lambda model, user: tuple(np.argsort(model.score(np.array([user]), history, np.arange(4, 8))[0]))  # noqa: E731
    assert len({order(_fitted(0), user) for user in range(20)}) > 1
    assert len({order(_fitted(seed), 0) for seed in range(20)}) > 1
    assert order(_fitted(3), 5) == order(_fitted(3), 5)


def test_pair_scores_equal_the_score_matrix_diagonal():
    model = _fitted()
    items = np.array([5, 2, 7])
    users = np.array([0, 1, 1])
    histories = Ragged.from_rows([[1], [2], [3]])
    np.testing.assert_array_equal(
        model.score_pairs(users, histories, items), np.diag(model.score(users, histories, items))
    )
