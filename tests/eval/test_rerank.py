"""MMR re-ranking: the hand-worked case, trade-off 1 leaves every metric as the plain protocol has
it, and lower trade-offs buy diversity with accuracy on ml-100k."""

import numpy as np
import pytest

from dynint.config import parse_config
from dynint.data.interactions import ItemFeatures
from dynint.data.ragged import Ragged
from dynint.errors import ConfigError
from dynint.eval.beyond_accuracy import feature_bags
from dynint.eval.protocols import RankingProtocol
from dynint.eval.rerank import RerankConfig, mmr
from dynint.runner import run_experiment


def test_mmr_picks_by_relevance_then_by_distance_from_what_it_picked():
    features = ItemFeatures(
        tokens={"genre": Ragged.from_rows([[], [0], [0], [1]])}, vocabularies={"genre": np.array(["a", "b"])}
    )
    bags = feature_bags(features, 3)
    candidates, scores = np.array([[1, 2, 3]]), np.array([[1.0, 0.9, 0.5]])
    # Relevance rescaled: 1, 0.8, 0. After item 1, item 2 (same genre) is worth 0.5 * 0.8 - 0.5 * 1 = -0.1
    # and item 3 (other genre) 0.5 * 0 - 0.5 * 0 = 0, so item 3 comes second.
    np.testing.assert_array_equal(mmr(candidates, scores, bags, 3, 0.5), [[1, 3, 2]])
    np.testing.assert_array_equal(mmr(candidates, scores, bags, 3, 1.0), [[1, 2, 3]])
    np.testing.assert_array_equal(mmr(candidates, scores, bags, 2, 0.0), [[1, 3]])


def test_bad_rerank_settings_are_refused_by_name():
    with pytest.raises(ConfigError, match="eval.rerank.trade_off=1.5"):
        RerankConfig(kind="mmr", trade_off=1.5)
    with pytest.raises(ConfigError, match="eval.rerank.kind='mmr' re-ranks full rankings"):
        RankingProtocol(kind="sampled", rerank=RerankConfig(kind="mmr"))


def test_mmr_trades_accuracy_for_diversity_and_at_one_changes_nothing(shared_data, tmp_path):
    def itemknn(**eval_settings):
        config = parse_config(
            {
                "name": "mmr",
                "output_dir": str(tmp_path / str(len(list(tmp_path.iterdir())))),
                "data": {"name": "ml-100k", "data_dir": str(shared_data)},
                "model": {"name": "itemknn"},
                "eval": {"ks": [5, 10], "beyond_accuracy": ["diversity"], **eval_settings},
            }
        )
        return run_experiment(config, progress=False).metrics["test"]

    plain = itemknn()
    kept = itemknn(rerank={"kind": "mmr", "trade_off": 1.0, "candidates": 50})
    diverse = itemknn(rerank={"kind": "mmr", "trade_off": 0.3, "candidates": 50})
    for name in ("HR@5", "HR@10", "NDCG@10", "MRR@10", "ILD@10"):
        assert kept[name] == pytest.approx(plain[name], abs=1e-12), name
    assert diverse["ILD@10"] > plain["ILD@10"] + 0.05
    assert diverse["NDCG@10"] < plain["NDCG@10"]
