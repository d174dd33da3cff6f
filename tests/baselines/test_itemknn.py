import numpy as np
import pytest
import scipy.sparse as sp

from baselines.base import FitData
from baselines.itemknn import (
    ItemKNN,
    ItemKNNConfig,
    _column_blocks,
    interaction_matrix,
    item_similarity,
    normalize_rows,
    top_k_per_column,
)
from baselines.recency import RecencyConfig
from dynint.data.ragged import Ragged
from dynint.errors import ConfigError

# Toy data: 4 users, items 1..3 (0 is padding).
#   u0: {1, 2}   u1: {1, 2, 3}   u2: {2, 3}   u3: {1}
# Item counts n1 = 3 (u0, u1, u3), n2 = 3 (u0, u1, u2), n3 = 2 (u1, u2).
# Co-occurrences c12 = 2 (u0, u1), c13 = 1 (u1), c23 = 2 (u1, u2).
TOY = Ragged.from_rows([[1, 2], [1, 2, 3], [2, 3], [1]])


def toy_similarity(similarity, **options):
    options.setdefault("neighbors", 10)
    return item_similarity(interaction_matrix(TOY, 3), similarity, **options).toarray()


def test_cosine_similarity_equals_the_hand_computed_toy_matrix():
    # s_ij = c_ij / sqrt(n_i n_j): s12 = 2 / sqrt(9), s13 = 1 / sqrt(6), s23 = 2 / sqrt(6); diagonal 0.
    s12, s13, s23 = 2 / 3, 1 / np.sqrt(6), 2 / np.sqrt(6)
    expected = [[0, s12, s13], [s12, 0, s23], [s13, s23, 0]]
    np.testing.assert_allclose(toy_similarity("cosine")[1:, 1:], expected)
    assert not toy_similarity("cosine")[0].any() and not toy_similarity("cosine")[:, 0].any()


def test_asymmetric_cosine_weights_history_and_candidate_counts_by_alpha():
    # S[i, j] = c_ij / (n_i^alpha n_j^(1 - alpha)), alpha = 0.25:
    # S[1, 3] = 1 / (3^0.25 2^0.75) but S[3, 1] = 1 / (2^0.25 3^0.75); S[1, 2] = 2 / 3 (n1 = n2).
    s = toy_similarity("asymmetric", alpha=0.25)
    assert s[1, 3] == pytest.approx(1 / (3**0.25 * 2**0.75))
    assert s[3, 1] == pytest.approx(1 / (2**0.25 * 3**0.75))
    assert s[1, 2] == pytest.approx(2 / 3)
    np.testing.assert_allclose(toy_similarity("asymmetric", alpha=0.5), toy_similarity("cosine"))


def test_jaccard_similarity_equals_the_hand_computed_toy_matrix():
    # s_ij = c_ij / (n_i + n_j - c_ij): s12 = 2 / 4, s13 = 1 / 4, s23 = 2 / 3.
    expected = [[0, 1 / 2, 1 / 4], [1 / 2, 0, 2 / 3], [1 / 4, 2 / 3, 0]]
    np.testing.assert_allclose(toy_similarity("jaccard")[1:, 1:], expected)


def test_shrinkage_adds_to_the_denominator_damping_rare_pairs():
    # cosine, shrink 1: s12 = 2 / (3 + 1), s13 = 1 / (sqrt(6) + 1); jaccard: s13 = 1 / (4 + 1).
    cosine = toy_similarity("cosine", shrink=1.0)
    assert cosine[1, 2] == pytest.approx(0.5) and cosine[1, 3] == pytest.approx(1 / (np.sqrt(6) + 1))
    assert toy_similarity("jaccard", shrink=1.0)[1, 3] == pytest.approx(1 / 5)


def test_top_k_keeps_each_candidate_columns_most_similar_items():
    # cosine, one neighbour per column: column 1 keeps item 2 (2/3 > 1/sqrt 6), column 2 keeps
    # item 3 (2/sqrt 6 > 2/3), column 3 keeps item 2 (2/sqrt 6 > 1/sqrt 6).
    s = toy_similarity("cosine", neighbors=1)
    assert [tuple(np.flatnonzero(s[:, j])) for j in (1, 2, 3)] == [(2,), (3,), (2,)]


def test_top_k_breaks_ties_by_lower_row():
    rows, cols, values = np.array([5, 2, 7, 1]), np.array([0, 0, 0, 1]), np.array([0.5, 0.5, 0.9, 0.1])
    kept = sorted(top_k_per_column(rows, cols, values, 2).tolist())
    assert kept == [1, 2, 3]  # column 0: 0.9 (row 7) then the tie at 0.5 goes to row 2


def test_blockwise_similarity_equals_one_block_and_blocks_respect_the_budget():
    rng = np.random.default_rng(0)
    sequences = Ragged.from_rows([rng.choice(np.arange(1, 60), size=rng.integers(1, 12)) for _ in range(300)])
    matrix = interaction_matrix(sequences, 59)
    one_block = item_similarity(matrix, "jaccard", neighbors=5, shrink=2.0)
    tiny_blocks = item_similarity(matrix, "jaccard", neighbors=5, shrink=2.0, max_block_pairs=50)
    assert len(_column_blocks(matrix, matrix.T.tocsr(), 50)) > 10
    np.testing.assert_array_equal(one_block.toarray(), tiny_blocks.toarray())
    assert np.diff(one_block.tocsc().indptr).max() <= 5


def test_row_normalisation_by_sum_and_max():
    s = toy_similarity("jaccard")
    by_sum = normalize_rows(sp.csr_matrix(s), "sum").toarray()
    by_max = normalize_rows(sp.csr_matrix(s), "max").toarray()
    np.testing.assert_allclose(by_sum.sum(axis=1), [0, 1, 1, 1])  # the padding row stays empty
    np.testing.assert_allclose(by_max.max(axis=1), [0, 1, 1, 1])
    np.testing.assert_allclose(by_sum[1], s[1] / s[1].sum())


def test_score_is_the_recency_weighted_mean_similarity_to_the_history():
    # History [3, 1], position decay with half-life 1: weights 1/2 (item 3) and 1 (item 1),
    # normalised to 1/3 and 2/3. Jaccard: score(2) = 1/3 * 2/3 + 2/3 * 1/2 = 5/9.
    config = ItemKNNConfig(similarity="jaccard", recency=RecencyConfig("position", 1.0))
    model = ItemKNN(config).fit(FitData(TOY, 4, 3))
    scores = model.score(np.array([0]), Ragged.from_rows([[3, 1]]), np.array([2, 1, 3]))
    np.testing.assert_allclose(scores, [[5 / 9, 1 / 3 * 1 / 4, 2 / 3 * 1 / 4]])


def test_score_pairs_equals_the_matching_entries_of_score():
    rng = np.random.default_rng(1)
    sequences = Ragged.from_rows([rng.integers(1, 40, size=rng.integers(1, 15)) for _ in range(100)])
    model = ItemKNN(ItemKNNConfig(neighbors=7, shrink=3.0, normalize="max")).fit(FitData(sequences, 100, 39))
    users = rng.integers(0, 100, size=64)
    histories, items = sequences.take(users), rng.integers(1, 40, size=64)
    full = model.score(users, histories, np.arange(40))
    np.testing.assert_allclose(model.score_pairs(users, histories, items), full[np.arange(64), items])


def test_score_of_an_item_subset_matches_full_scores_and_empty_histories_score_zero():
    model = ItemKNN(ItemKNNConfig()).fit(FitData(TOY, 4, 3))
    histories = Ragged.from_rows([[1, 2], []])
    full = model.score(np.array([0, 1]), histories, np.arange(4))
    np.testing.assert_array_equal(model.score(np.array([0, 1]), histories, np.array([3, 1, 3])), full[:, [3, 1, 3]])
    assert not full[1].any()


def test_config_rejects_bad_values_naming_the_key():
    with pytest.raises(ConfigError, match="similarity"):
        ItemKNNConfig(similarity="pearson")
    with pytest.raises(ConfigError, match="shrink"):
        ItemKNNConfig(shrink=-1.0)
    with pytest.raises(ConfigError, match="alpha"):
        ItemKNNConfig(alpha=1.5)


def test_recency_itemknn_beats_popularity_on_real_ml100k_validation(shared_data):
    from baselines.pop import PopRec, PopRecConfig
    from dynint.config import parse_config
    from dynint.data.prepared import prepare_data
    from dynint.runner import evaluate_baseline

    config = parse_config({"data": {"name": "ml-100k", "data_dir": str(shared_data)}})
    data = prepare_data(config)
    fit_data = FitData.for_stage(data.split, "valid")
    knn = ItemKNN(ItemKNNConfig(shrink=10.0, recency=RecencyConfig("position", 2.0))).fit(fit_data)
    pop = PopRec(PopRecConfig()).fit(fit_data)
    ndcg = {
        name: evaluate_baseline(model, fit_data, data.split.valid, config.eval, progress=False)["NDCG@10"]
        for name, model in (("knn", knn), ("pop", pop))
    }
    assert ndcg["knn"] > 1.5 * ndcg["pop"]
