"""DIEN: the attentional GRUs, softmax attention over real steps, and the auxiliary loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from dynint.models.ctr.dien import AttentionalGRU
from dynint.models.gru4rec import GRULayer
from tests.models.ctr.tiny_ctr import (
    attention_weights,
    click_loss_gradients,
    forward,
    tiny_batch,
    tiny_model,
    total_loss_gradients,
    with_negatives,
)

LENGTHS = np.array([6, 3, 1])


def _sequences():
    x = jax.random.normal(jax.random.key(1), (3, 6, 4))
    valid = np.arange(6)[None, :] < LENGTHS[:, None]
    return x, jnp.asarray(valid)


@pytest.mark.parametrize("gate", ["augru", "aigru"])
def test_unit_attention_makes_the_gate_a_plain_gru(gate):
    layer = AttentionalGRU(4, 5, gate, rngs=nnx.Rngs(0))
    x, valid = _sequences()
    final = layer(x, valid, jnp.ones(valid.shape))
    plain = GRULayer.__call__(layer, x)  # the same weights, run as an ordinary GRU
    np.testing.assert_allclose(final, plain[np.arange(3), LENGTHS - 1], atol=1e-6)


@pytest.mark.parametrize("gate", ["augru", "agru"])
def test_zero_attention_keeps_the_initial_state(gate):
    layer = AttentionalGRU(4, 5, gate, rngs=nnx.Rngs(0))
    x, valid = _sequences()
    np.testing.assert_array_equal(layer(x, valid, jnp.zeros(valid.shape)), 0.0)


def test_agru_moves_the_state_by_the_attention_score():
    layer = AttentionalGRU(4, 5, "agru", rngs=nnx.Rngs(0))
    x, valid = _sequences()
    one_step = layer(x[:, :1], valid[:, :1], jnp.full((3, 1), 0.25))
    full_step = layer(x[:, :1], valid[:, :1], jnp.ones((3, 1)))  # the candidate itself
    np.testing.assert_allclose(one_step, 0.25 * full_step, atol=1e-6)


def test_attention_is_a_softmax_over_the_real_steps_only():
    batch = tiny_batch()
    weights = np.asarray(attention_weights(tiny_model("dien"), batch))
    real = batch.histories != 0
    assert np.all(weights[~real] == 0) and np.all(weights[real] > 0)
    np.testing.assert_allclose(weights[real.any(axis=1)].sum(axis=1), 1.0, atol=1e-6)
    assert np.all(weights[~real.any(axis=1)] == 0)  # a row without behaviours attends to nothing


def test_zero_auxiliary_weight_equals_training_without_the_auxiliary_loss():
    batch = tiny_batch()
    with_auxiliary, without = tiny_model("dien"), tiny_model("dien", auxiliary_weight=0.0)
    logits, auxiliary = forward(with_auxiliary, batch)
    logits_without, auxiliary_without = forward(without, batch)
    np.testing.assert_array_equal(logits_without, logits)
    assert float(auxiliary) > 0 and float(auxiliary_without) == 0.0
    expected = click_loss_gradients(with_auxiliary, batch)
    actual = total_loss_gradients(without, batch)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-7), actual, expected)


def test_auxiliary_loss_is_the_mean_over_steps_with_a_real_next_behaviour():
    model, batch = tiny_model("dien"), tiny_batch()
    total = float(forward(model, batch)[1])
    per_row = [float(forward(model, _rows(batch, [row]))[1]) for row in range(3)]
    steps = [2, 0, 5]  # rows of 3, 1 and 6 behaviours; the empty row has none
    np.testing.assert_allclose(total, np.dot(per_row, steps) / sum(steps), rtol=1e-5)


def test_auxiliary_loss_ignores_the_first_negative_and_padding_but_not_later_negatives():
    model, batch = tiny_model("dien"), tiny_batch()
    reference = float(forward(model, batch)[1])
    first = batch.history_negatives.copy()
    first[:, 0] = np.where(first[:, 0] != 0, 11, 0)  # no state precedes the first behaviour
    assert float(forward(model, with_negatives(batch, first))[1]) == pytest.approx(reference, abs=1e-6)
    later = batch.history_negatives.copy()
    later[2, 3] = 11
    assert float(forward(model, with_negatives(batch, later))[1]) != pytest.approx(reference, abs=1e-6)


def _rows(batch, rows):
    return jax.tree.map(lambda x: x[np.asarray(rows)], batch)
