"""DIEN: the attentional GRUs, softmax attention over real steps, and the auxiliary loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from dynint.models.ctr.dien import AttentionalGRU
from dynint.models.gru4rec import GRULayer
from tests.models.ctr.tiny_ctr import tiny_batch, tiny_model, total_loss

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
    weights = np.asarray(tiny_model("dien").attention_weights(batch))
    real = batch.histories != 0
    assert np.all(weights[~real] == 0) and np.all(weights[real] > 0)
    np.testing.assert_allclose(weights[real.any(axis=1)].sum(axis=1), 1.0, atol=1e-6)
    assert np.all(weights[~real.any(axis=1)] == 0)  # a row without behaviours attends to nothing


def test_zero_auxiliary_weight_equals_training_without_the_auxiliary_loss():
    batch = tiny_batch()
    with_auxiliary, without = tiny_model("dien"), tiny_model("dien", auxiliary_weight=0.0)
    logits, auxiliary = with_auxiliary(batch, dropout=None)
    logits_without, auxiliary_without = without(batch, dropout=None)
    np.testing.assert_array_equal(logits_without, logits)
    assert float(auxiliary) > 0 and float(auxiliary_without) == 0.0

    def click_loss(model):
        return total_loss(model, batch) - model(batch, dropout=None)[1]

    expected = nnx.state(nnx.grad(click_loss)(with_auxiliary))
    actual = nnx.state(nnx.grad(total_loss)(without))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-7), actual, expected)


def test_auxiliary_weight_scales_the_auxiliary_loss():
    batch = tiny_batch()
    once = tiny_model("dien")(batch, dropout=None)[1]
    np.testing.assert_allclose(tiny_model("dien", auxiliary_weight=0.5)(batch, dropout=None)[1], 0.5 * once, rtol=1e-6)


def test_auxiliary_loss_is_the_mean_over_steps_with_a_real_next_behaviour():
    model, batch = tiny_model("dien"), tiny_batch()
    total = float(model(batch, dropout=None)[1])
    per_row = [float(model(_rows(batch, [row]), dropout=None)[1]) for row in range(3)]
    steps = [2, 0, 5]  # rows of 3, 1 and 6 behaviours; the empty row has none
    np.testing.assert_allclose(total, np.dot(per_row, steps) / sum(steps), rtol=1e-5)


def test_auxiliary_loss_ignores_the_first_negative_and_padding_but_not_later_negatives():
    model, batch = tiny_model("dien"), tiny_batch()
    reference = float(model(batch, dropout=None)[1])
    first = batch.history_negatives.copy()
    first[:, 0] = np.where(first[:, 0] != 0, 11, 0)  # no state precedes the first behaviour
    assert float(model(_replace_negatives(batch, first), dropout=None)[1]) == pytest.approx(reference, abs=1e-6)
    later = batch.history_negatives.copy()
    later[2, 3] = 11
    assert float(model(_replace_negatives(batch, later), dropout=None)[1]) != pytest.approx(reference, abs=1e-6)


@pytest.mark.parametrize("gate", ["aigru", "agru", "augru"])
def test_every_gate_gives_finite_outputs(gate):
    logits, auxiliary = tiny_model("dien", gate=gate)(tiny_batch(), dropout=None)
    assert np.all(np.isfinite(logits)) and np.isfinite(auxiliary)


def _rows(batch, rows):
    return jax.tree.map(lambda x: x[np.asarray(rows)], batch)


def _replace_negatives(batch, negatives):
    from tests.models.ctr.tiny_ctr import GENRES

    return batch._replace(history_negatives=negatives, negative_tokens={"genre": GENRES[negatives]})
