import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from dynint.config import load_config
from dynint.errors import ConfigError
from dynint.models.auxiliary import with_auxiliary_loss
from dynint.models.dropout import DropoutKeys
from dynint.models.mixture_of_experts import (
    MixtureOfExpertsConfig,
    MixtureOfExpertsFeedForward,
    Routing,
    dispatch_slots,
    load_balancing_loss,
    route,
)
from dynint.models.sasrec import SASRecConfig
from dynint.models.transformer import FeedForward
from dynint.train.batching import TrainBatch
from dynint.train.step import sequence_loss_fn
from tests.models.tiny_models import tiny_model

HIDDEN, INNER = 8, 16


def _layer(num_experts: int, top_k: int = 1, capacity_factor: float = 1.25, dropout: float = 0.0):
    config = MixtureOfExpertsConfig(num_experts=num_experts, top_k=top_k, capacity_factor=capacity_factor)
    return MixtureOfExpertsFeedForward(HIDDEN, INNER, jax.nn.gelu, dropout, config, rngs=nnx.Rngs(params=0))


def _tokens(count: int, seed: int = 1) -> jax.Array:
    return jax.random.normal(jax.random.key(seed), (count, HIDDEN))


def _training(layer, x, valid):
    """The layer in training mode (dropout keys given) and the auxiliary loss it sowed."""
    return with_auxiliary_loss(lambda module, *args: module(*args))(layer, x, valid, DropoutKeys(jax.random.key(0)))


def _expert_output(layer, expert: int, x: jax.Array) -> jax.Array:
    inner = jax.nn.gelu(x @ layer.inner_kernel[...][expert] + layer.inner_bias[...][expert])
    return inner @ layer.outer_kernel[...][expert] + layer.outer_bias[...][expert]


def test_routing_picks_the_most_probable_experts_and_gates_them_by_their_probability():
    logits = jnp.array([[0.0, 2.0, 1.0, -1.0], [3.0, 0.0, 0.0, 2.5]])
    routing = route(logits, top_k=2)
    probabilities = jax.nn.softmax(logits, axis=-1)
    np.testing.assert_array_equal(routing.experts, [[1, 2], [0, 3]])
    np.testing.assert_allclose(routing.gates, [probabilities[0, [1, 2]], probabilities[1, [0, 3]]], rtol=1e-6)


def test_the_balancing_loss_is_one_when_routing_is_uniform_and_the_expert_count_when_it_collapses():
    experts = 4
    uniform = Routing(jnp.arange(8)[:, None] % experts, jnp.full((8, 1), 0.25), jnp.full((8, experts), 0.25))
    collapsed = Routing(jnp.zeros((8, 1), int), jnp.ones((8, 1)), jax.nn.one_hot(jnp.zeros(8, int), experts))
    real = jnp.ones(8, jnp.int32)
    assert float(load_balancing_loss(uniform, real)) == pytest.approx(1.0)
    assert float(load_balancing_loss(collapsed, real)) == pytest.approx(experts)


def test_padding_tokens_count_in_no_balancing_statistic():
    experts = 4
    routing = Routing(jnp.arange(8)[:, None] % experts, jnp.full((8, 1), 0.25), jnp.full((8, experts), 0.25))
    padded = routing._replace(
        experts=routing.experts.at[4:].set(0), probabilities=routing.probabilities.at[4:].set(jnp.eye(experts)[0])
    )
    real = jnp.array([1, 1, 1, 1, 0, 0, 0, 0])
    assert float(load_balancing_loss(padded, real)) == pytest.approx(float(load_balancing_loss(routing, real)))


def test_first_choices_are_served_before_second_choices_and_overflow_is_dropped():
    experts = jnp.array([[0, 1], [0, 1], [1, 0]])
    slots = dispatch_slots(experts, jnp.array([1, 1, 1]), num_experts=2, capacity=2)
    dropped = 2 * 2
    # Expert 0: tokens 0 and 1 (first choices) fill it, so token 2's second choice is dropped.
    # Expert 1: token 2 (first choice) takes slot 0, token 0's second choice slot 1, token 1's is dropped.
    np.testing.assert_array_equal(slots, [[0, 3], [1, dropped], [2, dropped]])


def test_padding_takes_no_expert_capacity():
    slots = dispatch_slots(jnp.zeros((3, 1), int), jnp.array([0, 1, 1]), num_experts=2, capacity=2)
    np.testing.assert_array_equal(slots[:, 0], [4, 0, 1])


def test_one_expert_computes_the_dense_feed_forward_layer():
    layer = _layer(num_experts=1)
    dense = FeedForward(HIDDEN, INNER, "gelu", 0.0, rngs=nnx.Rngs(params=0))
    dense.inner.kernel[...] = layer.inner_kernel[...][0]
    dense.inner.bias[...] = layer.inner_bias[...][0]
    dense.outer.kernel[...] = layer.outer_kernel[...][0]
    dense.outer.bias[...] = layer.outer_bias[...][0]
    x = _tokens(6)
    valid = jnp.ones(6, bool)
    np.testing.assert_allclose(layer(x, valid, None), dense(x, valid, None), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_training(layer, x, valid)[0], dense(x, valid, None), rtol=1e-5, atol=1e-6)


def test_routing_every_token_to_every_expert_is_the_softmax_mixture_of_the_experts():
    layer = _layer(num_experts=3, top_k=3)
    x = _tokens(5)
    probabilities = jax.nn.softmax(x @ layer.router.kernel[...], axis=-1)
    expected = sum(probabilities[:, [e]] * _expert_output(layer, e, x) for e in range(3))
    np.testing.assert_allclose(layer(x, jnp.ones(5, bool), None), expected, rtol=1e-5, atol=1e-6)


def test_with_room_for_every_token_training_routes_exactly_as_inference():
    layer = _layer(num_experts=4, top_k=2, capacity_factor=2.0)  # capacity = all tokens
    x, valid = _tokens(10), jnp.ones(10, bool)
    trained, balance = _training(layer, x, valid)
    np.testing.assert_allclose(trained, layer(x, valid, None), rtol=1e-6, atol=1e-6)
    assert float(balance) > 0


def test_tokens_past_an_experts_capacity_keep_only_their_residual():
    layer = _layer(num_experts=2, capacity_factor=0.25)  # capacity: ceil(0.25 * 8 / 2) = 1 slot per expert
    x, valid = _tokens(8), jnp.ones(8, bool)
    trained, _ = _training(layer, x, valid)
    served = np.flatnonzero(np.abs(np.asarray(trained)).sum(axis=1) > 0)
    experts = np.asarray(route(x @ layer.router.kernel[...], 1).experts[:, 0])
    # Exactly the first token sent to each expert is served.
    assert list(served) == sorted({int(np.flatnonzero(experts == e)[0]) for e in set(experts.tolist())})


def test_padding_changes_neither_the_real_tokens_outputs_nor_the_balancing_loss():
    layer = _layer(num_experts=4, top_k=2)
    x = _tokens(6)
    padded = jnp.concatenate([x, _tokens(4, seed=9)])
    valid = jnp.arange(10) < 6
    short, short_balance = _training(layer, x, jnp.ones(6, bool))
    long, long_balance = _training(_layer(num_experts=4, top_k=2, capacity_factor=1.25 * 10 / 6), padded, valid)
    np.testing.assert_allclose(long[:6], short, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(long[6:], 0.0)
    assert float(long_balance) == pytest.approx(float(short_balance), rel=1e-6)
    np.testing.assert_allclose(layer(padded, valid, None)[:6], layer(x, jnp.ones(6, bool), None), rtol=1e-6)


def test_inference_scores_do_not_depend_on_the_other_sequences_in_the_batch():
    layer = _layer(num_experts=4, capacity_factor=0.5)
    x = _tokens(12).reshape(3, 4, HIDDEN)
    valid = jnp.ones((3, 4), bool)
    together = layer(x, valid, None)
    alone = jnp.concatenate([layer(x[i : i + 1], valid[i : i + 1], None) for i in range(3)])
    np.testing.assert_allclose(together, alone, rtol=1e-6, atol=1e-6)


def test_the_router_learns_from_the_task_loss_through_its_gates():
    layer = _layer(num_experts=4, top_k=1)
    graphdef, params = nnx.split(layer, nnx.Param)
    x, valid = _tokens(8), jnp.ones(8, bool)

    def task_loss(params):
        return jnp.sum(nnx.merge(graphdef, params)(x, valid, None) ** 2)

    assert float(jnp.abs(jax.grad(task_loss)(params)["router"]["kernel"][...]).sum()) > 0


def test_sasrec_with_experts_adds_the_weighted_balancing_loss_to_its_training_loss(sequences):
    batch = _train_batch(np.asarray(sequences))
    losses = {}
    for weight in (0.0, 1.0):
        moe = MixtureOfExpertsConfig(num_experts=4, top_k=2, balance_weight=weight)
        graphdef, params = tiny_model("sasrec", moe=moe, dropout=0.0, attention_dropout=0.0)
        losses[weight] = float(sequence_loss_fn(graphdef, moe_config(moe))(params, batch, jax.random.key(3)))
    # Two blocks, each sowing one balancing loss of about 1 (it is >= 1 only in expectation).
    assert 1.5 < losses[1.0] - losses[0.0] < 2 * 4


def moe_config(moe: MixtureOfExpertsConfig) -> SASRecConfig:
    return SASRecConfig(hidden_size=8, num_heads=2, inner_size=16, moe=moe)


def _train_batch(sequences: np.ndarray) -> TrainBatch:
    inputs = sequences[:, :-1]
    targets = sequences[:, 1:]
    index = np.flatnonzero((inputs != 0) & (targets != 0))
    return TrainBatch(
        inputs=jnp.asarray(inputs),
        token_index=jnp.asarray(index),
        token_target=jnp.asarray(targets.reshape(-1)[index]),
        token_weight=jnp.ones(len(index), jnp.float32),
    )


def test_the_experts_are_a_config_choice_and_bad_values_name_their_key(tmp_path):
    path = tmp_path / "moe.yaml"
    path.write_text("name: moe\ndata:\n  name: synthetic\nmodel:\n  name: sasrec\n")
    config = load_config(path, ["model.moe.num_experts=4", "model.moe.top_k=2"])
    assert config.model.moe == MixtureOfExpertsConfig(num_experts=4, top_k=2)
    with pytest.raises(ConfigError, match="model.moe.top_k"):
        load_config(path, ["model.moe.num_experts=2", "model.moe.top_k=3"])
