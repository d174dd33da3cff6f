"""The RQ-VAE's codes follow the structure of the content: items of one cluster share a first code."""

import numpy as np
import pytest

from dynint.errors import ConfigError
from dynint.generative.rqvae import RQVAEConfig, codebook_usage, train_rqvae


def _clustered_vectors(clusters=6, per_cluster=30, dimension=24, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dimension)) * 3.0
    labels = np.repeat(np.arange(clusters), per_cluster)
    return centres[labels] + rng.normal(scale=0.3, size=(len(labels), dimension)), labels


def test_first_level_codes_separate_the_content_clusters():
    vectors, labels = _clustered_vectors()
    config = RQVAEConfig(levels=2, codebook_size=8, latent_size=8, hidden_sizes=(32,), steps=600)
    result = train_rqvae(vectors, config, seed=0)
    assert result.codes.shape == (len(vectors), 2)
    first = result.codes[:, 0]
    # Each cluster mostly lands on one code, and different clusters on different codes.
    majority = [np.bincount(first[labels == c]).max() / np.sum(labels == c) for c in range(6)]
    assert np.mean(majority) > 0.9
    dominant = {int(np.bincount(first[labels == c]).argmax()) for c in range(6)}
    assert len(dominant) >= 5
    assert result.stats["reconstruction"] < np.var(vectors)  # the codes keep most of the content
    assert result.stats["codes_used"] == [len(np.unique(result.codes[:, level])) for level in range(2)]


def test_training_is_a_function_of_the_seed():
    vectors, _ = _clustered_vectors(clusters=3, per_cluster=10, dimension=8)
    config = RQVAEConfig(levels=2, codebook_size=4, latent_size=4, hidden_sizes=(16,), steps=50)
    first, again = train_rqvae(vectors, config, seed=3), train_rqvae(vectors, config, seed=3)
    np.testing.assert_array_equal(first.codes, again.codes)


def test_usage_counts_codes_and_their_perplexity():
    codes = np.array([[0, 1], [0, 2], [1, 3], [1, 3]])
    usage = codebook_usage(codes, 4)
    assert usage["codes_used"] == [2, 3]
    assert usage["perplexity"][0] == pytest.approx(2.0)  # two codes used equally


def test_bad_settings_name_the_config_keys():
    with pytest.raises(ConfigError, match="model.semantic_ids: levels >= 1, codebook_size >= 2"):
        RQVAEConfig(codebook_size=1)
