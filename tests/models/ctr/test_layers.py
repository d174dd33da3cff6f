"""The CTR building blocks against hand-computed values."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import nnx

from dynint.models.ctr.layers import Dice, ItemEmbedding, PReLU, masked_softmax, pool_history


def test_item_embedding_concatenates_the_id_and_the_mean_of_real_tokens():
    embedding = ItemEmbedding(3, {"genre": 4}, 2, rngs=nnx.Rngs(0))
    genres = np.asarray(embedding.features[0].embedding[...])
    out = np.asarray(embedding(jnp.array([1, 2]), {"genre": jnp.array([[1, 3, 0], [0, 0, 0]])}))
    np.testing.assert_allclose(out[0], np.r_[embedding.items.embedding[1], (genres[1] + genres[3]) / 2])
    np.testing.assert_allclose(out[1, 2:], 0.0)  # no tokens: a zero vector, whatever row 0 holds


def test_dice_and_prelu_match_their_formulas():
    x = jnp.array([[-2.0, 0.5, 3.0]])
    dice, prelu = Dice(3), PReLU(3)
    dice.alpha[...] = jnp.full((3,), 0.3)
    p = 1 / (1 + np.exp(-np.asarray(x)))
    np.testing.assert_allclose(dice(x), p * x + (1 - p) * 0.3 * x, rtol=1e-6)
    np.testing.assert_allclose(prelu(x), [[-0.2, 0.5, 3.0]], rtol=1e-6)


def test_pooling_and_softmax_use_only_valid_positions():
    history = jnp.array([[[1.0], [3.0], [100.0]]])
    valid = jnp.array([[True, True, False]])
    assert float(pool_history(history, valid, "sum")[0, 0]) == 4.0
    assert float(pool_history(history, valid, "mean")[0, 0]) == 2.0
    scores = jnp.array([[0.0, jnp.log(3.0), 50.0], [1.0, 2.0, 3.0]])
    weights = masked_softmax(scores, jnp.array([[True, True, False], [False, False, False]]))
    np.testing.assert_allclose(weights, [[0.25, 0.75, 0.0], [0.0, 0.0, 0.0]], atol=1e-6)
