import numpy as np
import pytest

from baselines.base import FitData
from baselines.content import ContentBased, ContentConfig
from baselines.hybrid import Hybrid, HybridConfig
from baselines.itemknn import ItemKNN, ItemKNNConfig
from dynint.data.interactions import ItemFeatures
from dynint.data.ragged import Ragged
from dynint.errors import ConfigError

SEQUENCES = Ragged.from_rows([[1, 2], [1, 2, 3], [2, 3], [1, 4], [4, 2]])
FEATURES = ItemFeatures(
    tokens={"tags": Ragged.from_rows([[], [1], [1, 2], [2], [3]])},
    vocabularies={"tags": np.array(["[PAD]", "x", "y", "z"])},
)
DATA = FitData(SEQUENCES, 5, 4, item_features=FEATURES)


def test_hybrid_is_the_weighted_sum_of_components_with_popularity_as_a_share_of_the_top_count():
    config = HybridConfig(itemknn_weight=0.7, content_weight=0.2, popularity_weight=0.1)
    hybrid = Hybrid(config).fit(DATA)
    users, histories, items = np.array([0, 2]), SEQUENCES.take([0, 2]), np.arange(5)
    knn = ItemKNN(config.itemknn).fit(DATA).score(users, histories, items)
    content = ContentBased(config.content).fit(DATA).score(users, histories, items)
    popularity = np.array([0, 3, 4, 2, 2]) / 4  # item counts over the largest (item 2: 4)
    expected = 0.7 * knn + 0.2 * content + 0.1 * popularity
    np.testing.assert_allclose(hybrid.score(users, histories, items), expected)
    pairs = hybrid.score_pairs(users, histories, np.array([3, 1]))
    np.testing.assert_allclose(pairs, [expected[0, 3], expected[1, 1]])


def test_components_with_zero_weight_are_not_fitted():
    # No item features needed when the content weight is 0.
    hybrid = Hybrid(HybridConfig(content_weight=0.0, popularity_weight=0.0)).fit(FitData(SEQUENCES, 5, 4))
    assert [type(model) for _, model in hybrid.components] == [ItemKNN]
    knn = ItemKNN(ItemKNNConfig()).fit(FitData(SEQUENCES, 5, 4))
    histories = SEQUENCES.take([1])
    np.testing.assert_allclose(hybrid.score([1], histories, np.arange(5)), knn.score([1], histories, np.arange(5)))


def test_config_needs_non_negative_weights_and_one_positive():
    with pytest.raises(ConfigError, match="weight"):
        HybridConfig(itemknn_weight=0.0, content_weight=0.0, popularity_weight=0.0)
    with pytest.raises(ConfigError, match="weight"):
        HybridConfig(content_weight=-1.0)
    assert HybridConfig(content=ContentConfig(fields=("tags",))).content.fields == ("tags",)
