"""Beyond-accuracy metrics, each pinned by a case small enough to compute by hand, and on real
data: PopRec, which shows everyone the same few items, covers less of ml-100k than ItemKNN."""

import math

import numpy as np
import pytest

from dynint.config import parse_config
from dynint.data.interactions import ItemFeatures
from dynint.data.ragged import Ragged
from dynint.errors import ConfigError
from dynint.eval import beyond_accuracy as ba
from dynint.eval.protocols import RankingProtocol
from dynint.runner import run_experiment


def _facts(num_items=4, num_users=4, item_events=(0, 10, 2, 0, 1), item_users=(0, 4, 1, 0, 1), features=None):
    return ba.CatalogueFacts(num_items, num_users, np.asarray(item_events), np.asarray(item_users), features)


def test_coverage_counts_distinct_items_shown_over_the_catalogue():
    lists = np.array([[1, 2], [2, 3]])
    assert ba.coverage(lists, 2, 5) == pytest.approx(3 / 5)
    assert ba.coverage(lists, 1, 5) == pytest.approx(2 / 5)


def test_gini_is_zero_for_equal_exposure_and_grows_with_concentration():
    # Counts 2, 1, 1, 0 -> sorted 0, 1, 1, 2: mean absolute difference 12 / 16 over twice the mean 2 = 0.375.
    assert ba.gini(np.array([[1, 2], [1, 3]]), 2, 4) == pytest.approx(0.375)
    assert ba.gini(np.array([[1, 2], [3, 4]]), 2, 4) == pytest.approx(0.0)
    assert ba.gini(np.array([[1], [1], [1]]), 1, 4) == pytest.approx(0.75)  # all on one item of 4: 1 - 1/4


def test_novelty_is_the_mean_self_information_of_the_items_shown():
    facts = _facts()  # item 1 seen by all 4 users, item 2 by 1, item 3 by none (counted as 1)
    assert ba.novelty(np.array([[1, 2]]), 2, facts) == pytest.approx((0.0 + 2.0) / 2)
    assert ba.novelty(np.array([[3]]), 1, facts) == pytest.approx(2.0)


def test_average_recommendation_popularity_counts_visible_events():
    assert ba.popularity(np.array([[1, 2], [2, 4]]), 2, _facts()) == pytest.approx((10 + 2 + 2 + 1) / 4)


def test_intra_list_diversity_is_one_minus_the_mean_pairwise_cosine_of_feature_bags():
    features = ItemFeatures(
        tokens={"genre": Ragged.from_rows([[], [0], [0], [1], [0, 1]])}, vocabularies={"genre": np.array(["a", "b"])}
    )
    bags = ba.feature_bags(features, 4)
    # Items 1 and 2 share genre a, 3 has b: similarities 1, 0, 0 -> diversity 1 - 1/3.
    assert ba.diversity(np.array([[1, 2, 3]]), 3, bags) == pytest.approx(2 / 3)
    # Item 4 has a and b: cosine with item 1 is 1/sqrt(2).
    assert ba.diversity(np.array([[1, 4]]), 2, bags) == pytest.approx(1 - 1 / math.sqrt(2))
    both = ba.beyond_accuracy_metrics(np.array([[1, 2, 3], [1, 4, 2]]), (2, 3), ("diversity",), _facts(features=bags))
    assert both["ILD@2"] == pytest.approx(((1 - 1) + (1 - 1 / math.sqrt(2))) / 2)


def test_catalogue_facts_count_events_and_distinct_users_per_item():
    visible = Ragged.from_rows([[1, 1, 2], [2], [3, 1]])
    facts = ba.catalogue_facts(visible, 4)
    np.testing.assert_array_equal(facts.item_events, [0, 3, 2, 1, 0])
    np.testing.assert_array_equal(facts.item_users, [0, 2, 2, 1, 0])
    assert facts.num_users == 3 and facts.features is None


def test_unknown_metrics_and_diversity_without_features_are_refused():
    with pytest.raises(ConfigError, match="'serendipity'"):
        RankingProtocol(beyond_accuracy=("coverage", "serendipity"))
    with pytest.raises(ConfigError, match="needs item features"):
        ba.beyond_accuracy_metrics(np.array([[1, 2]]), (2,), ("diversity",), _facts())


def test_poprec_shows_fewer_and_more_popular_items_than_itemknn_on_ml_100k(shared_data, tmp_path):
    results = {}
    for model in ("poprec", "itemknn"):
        config = parse_config(
            {
                "name": model,
                "output_dir": str(tmp_path),
                "data": {"name": "ml-100k", "data_dir": str(shared_data)},
                "model": {"name": model},
                "eval": {"ks": [10], "beyond_accuracy": list(ba.BEYOND_ACCURACY_METRICS)},
            }
        )
        results[model] = run_experiment(config, progress=False).metrics["test"]
    pop, knn = results["poprec"], results["itemknn"]
    assert pop["Coverage@10"] < knn["Coverage@10"] and pop["Coverage@10"] < 0.1
    assert pop["Gini@10"] > knn["Gini@10"] > 0.5
    assert pop["ARP@10"] > knn["ARP@10"] and pop["Novelty@10"] < knn["Novelty@10"]
    assert 0.0 < knn["ILD@10"] <= 1.0  # ml-100k genres give the feature bags


def test_activity_groups_split_rows_by_history_length_and_report_each_groups_ndcg():
    lengths = np.array([5, 1, 3, 2, 4])
    np.testing.assert_array_equal(ba.activity_groups(lengths), [4, 0, 2, 1, 3])
    # 7 rows in 3 groups of 3, 2, 2: lengths 1, 2, 2 | 3, 3 | 7, 9.
    np.testing.assert_array_equal(ba.activity_groups(np.array([2, 2, 1, 7, 3, 3, 9]), 3), [0, 0, 0, 2, 1, 1, 2])
    metrics = ba.activity_metrics(np.array([0, 1, 20, 0, 3]), lengths, (10,))
    expected = {"q1": 1 / math.log2(3), "q2": 1.0, "q3": 0.0, "q4": 1 / math.log2(5), "q5": 1.0}
    for group, value in expected.items():
        assert metrics[f"NDCG@10 {group}"] == pytest.approx(value)
    assert metrics["NDCG@10 gap"] == pytest.approx(1.0)
