import math

import numpy as np
import pytest

from dynint.eval.ranking_metrics import metric_names, ranking_metrics

RANKS = np.array([0, 3, 12])


def test_hit_rate_is_fraction_of_ranks_below_k():
    # ranks [0, 3, 12]: two of three below 10, one below 1, one below 3
    metrics = ranking_metrics(RANKS, ks=(1, 3, 10))
    assert metrics["HR@10"] == pytest.approx(2 / 3)
    assert metrics["HR@3"] == pytest.approx(1 / 3)
    assert metrics["HR@1"] == pytest.approx(1 / 3)


def test_ndcg_discounts_a_hit_at_rank_r_by_log2_of_r_plus_2():
    # ranks [0, 3, 12] -> NDCG@10 = (1/log2(2) + 1/log2(5) + 0) / 3
    assert ranking_metrics(RANKS, ks=(10,))["NDCG@10"] == pytest.approx((1 + 1 / math.log2(5)) / 3)


def test_mrr_is_reciprocal_rank_of_hits_within_k():
    # ranks [0, 3, 12] -> MRR@10 = (1/1 + 1/4 + 0) / 3, MRR@3 = (1/1 + 0 + 0) / 3
    metrics = ranking_metrics(RANKS, ks=(3, 10))
    assert metrics["MRR@10"] == pytest.approx((1 + 1 / 4) / 3)
    assert metrics["MRR@3"] == pytest.approx(1 / 3)


def test_recall_averages_per_user_hit_fractions_over_users():
    # user 7 has ranks [0, 12] -> 1/2 of its rows in the top 10, user 9 has rank [3] -> 1/1;
    # Recall@10 = (1/2 + 1) / 2 = 0.75 while HR@10 averages rows: 2/3
    metrics = ranking_metrics(RANKS[[0, 2, 1]], ks=(10,), users=np.array([7, 7, 9]))
    assert metrics["Recall@10"] == pytest.approx(0.75)
    assert metrics["HR@10"] == pytest.approx(2 / 3)


def test_recall_equals_hit_rate_when_every_user_has_one_row():
    with_users = ranking_metrics(RANKS, ks=(10,), users=np.array([5, 2, 8]))
    without_users = ranking_metrics(RANKS, ks=(10,))
    assert with_users["Recall@10"] == with_users["HR@10"] == without_users["Recall@10"]


def test_metric_names_list_the_returned_keys_in_order():
    metrics = ranking_metrics(RANKS, ks=(5, 10))
    assert list(metrics) == metric_names((5, 10))
    assert metric_names((10,)) == ["HR@10", "NDCG@10", "MRR@10", "Recall@10"]


def test_metrics_are_python_floats():
    assert all(type(value) is float for value in ranking_metrics(RANKS, ks=(10,)).values())


@pytest.mark.parametrize("ranks", [np.array([0, -1]), np.array([0.5]), np.array([], dtype=np.int64)])
def test_invalid_ranks_are_rejected(ranks):
    with pytest.raises(ValueError, match="ranks"):
        ranking_metrics(ranks, ks=(10,))
