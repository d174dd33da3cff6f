"""Attention read from a Transformer interest model: the weights its scored query really uses."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from dynint.models.base import ClozeObjective, NextItemObjective
from dynint.models.transformer import attention_mask
from dynint.serving.attention import AttentionUnavailable, history_attention
from tests.models.tiny_models import MAX_LENGTH, NUM_ITEMS, tiny_model

NEXT = NextItemObjective()
HISTORY = np.array([3, 7, 1, 12, 5])


def _manual_last_query_weights(graphdef, params, history):
    """The last block's head-averaged softmax weights of the last position, computed here from
    the block's own projections (post-norm: the encoder normalises the embedded input first)."""
    model = nnx.merge(graphdef, params)
    inputs = jnp.asarray(history[None, :], dtype=jnp.int32)
    valid = inputs != 0
    x = model.encoder.norm(model.embed(inputs))
    [block] = model.encoder.blocks
    attention = block.attention
    batch, length, hidden = x.shape
    heads = attention.num_heads
    q, k, _ = jnp.split(attention.qkv(x).reshape(batch, length, 3 * heads, hidden // heads), 3, axis=2)
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(hidden // heads)
    logits = jnp.where(attention_mask(valid, True), logits, -jnp.inf)
    weights = np.exp(np.asarray(logits, dtype=np.float64) - np.asarray(logits).max(-1, keepdims=True))
    weights = weights / weights.sum(-1, keepdims=True)
    return weights[0].mean(axis=0)[-1]


def test_the_last_layer_weights_are_those_the_scored_query_attends_with():
    graphdef, params = tiny_model("sasrec", num_layers=1, norm="post", dropout=0.0, attention_dropout=0.0)
    weights = history_attention(graphdef, params, NEXT, MAX_LENGTH, HISTORY, "last-layer")
    np.testing.assert_allclose(weights, _manual_last_query_weights(graphdef, params, HISTORY), rtol=1e-5)
    assert weights.shape == (len(HISTORY),) and abs(weights.sum() - 1) < 1e-6


def test_a_long_history_is_read_through_the_models_window_only():
    graphdef, params = tiny_model("sasrec")
    history = np.arange(1, 15) % NUM_ITEMS + 1
    weights = history_attention(graphdef, params, NEXT, MAX_LENGTH, history, "last-layer")
    assert weights.shape == (MAX_LENGTH,)
    np.testing.assert_allclose(
        weights, history_attention(graphdef, params, NEXT, MAX_LENGTH, history[-MAX_LENGTH:], "last-layer")
    )


def test_rollout_through_one_layer_is_half_its_attention_and_half_the_residual():
    graphdef, params = tiny_model("sasrec", num_layers=1)
    last = history_attention(graphdef, params, NEXT, MAX_LENGTH, HISTORY, "last-layer")
    rolled = history_attention(graphdef, params, NEXT, MAX_LENGTH, HISTORY, "rollout")
    residual = np.eye(len(HISTORY))[-1]
    np.testing.assert_allclose(rolled, 0.5 * last + 0.5 * residual, rtol=1e-5)


def test_rollout_through_two_layers_is_a_distribution_over_the_history():
    graphdef, params = tiny_model("sasrec", num_layers=2)
    rolled = history_attention(graphdef, params, NEXT, MAX_LENGTH, HISTORY, "rollout")
    assert np.all(rolled >= 0) and abs(rolled.sum() - 1) < 1e-6


def test_a_cloze_model_leaves_its_mask_token_out():
    graphdef, params = tiny_model("bert4rec")
    history = np.arange(1, 12)
    weights = history_attention(graphdef, params, ClozeObjective(0.2, NUM_ITEMS + 1), MAX_LENGTH, history, "last-layer")
    assert weights.shape == (MAX_LENGTH - 1,) and 0 < weights.sum() < 1


def test_models_without_softmax_attention_or_full_weights_are_refused():
    graphdef, params = tiny_model("gru4rec")
    with pytest.raises(AttentionUnavailable, match="GRU4Rec has no softmax self-attention"):
        history_attention(graphdef, params, NEXT, MAX_LENGTH, HISTORY, "last-layer")
    graphdef, params = tiny_model("sparse-sasrec")
    assert history_attention(graphdef, params, NEXT, MAX_LENGTH, HISTORY, "last-layer").shape == (len(HISTORY),)
    with pytest.raises(AttentionUnavailable, match="only its last layer's weights exist"):
        history_attention(graphdef, params, NEXT, MAX_LENGTH, HISTORY, "rollout")
