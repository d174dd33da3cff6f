import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dynint.train.config import TrainConfig
from dynint.train.optim import learning_rate_schedule, make_optimizer, skip_frozen, weight_decay_mask

PARAMS = {
    "items": {"embedding": jnp.ones((3, 2))},
    "block": {"dense": {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)}, "norm": {"scale": jnp.ones(2)}},
}


def test_warmup_rises_linearly_then_cosine_decays_to_the_final_fraction():
    config = TrainConfig(learning_rate=1.0, warmup_steps=10, schedule="cosine", final_learning_rate_fraction=0.1)
    schedule = learning_rate_schedule(config, total_steps=110)
    np.testing.assert_allclose([float(schedule(s)) for s in (0, 5, 10, 60, 110)], [0.0, 0.5, 1.0, 0.55, 0.1], atol=1e-6)


def test_linear_schedule_ends_at_the_final_fraction():
    schedule = learning_rate_schedule(TrainConfig(learning_rate=2.0, schedule="linear"), total_steps=100)
    np.testing.assert_allclose([float(schedule(s)) for s in (0, 50, 100)], [2.0, 1.0, 0.0], atol=1e-6)


@pytest.mark.parametrize("decay_embeddings", [False, True])
def test_weight_decay_applies_to_kernels_and_optionally_embeddings_never_biases_or_norms(decay_embeddings):
    mask = weight_decay_mask(PARAMS, decay_embeddings)
    assert mask["block"]["dense"] == {"kernel": True, "bias": False}
    assert mask["block"]["norm"] == {"scale": False}
    assert mask["items"]["embedding"] is decay_embeddings


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_weight_decay_moves_only_masked_parameters_when_gradients_are_zero(optimizer):
    config = TrainConfig(optimizer=optimizer, learning_rate=0.1, weight_decay=0.5)
    transform = make_optimizer(config, total_steps=10)
    zero_grads = {k: optax.tree.zeros_like(v) for k, v in PARAMS.items()}
    updates, _ = transform.update(zero_grads, transform.init(PARAMS), PARAMS)
    assert float(jnp.abs(updates["block"]["dense"]["kernel"]).max()) > 0
    for unchanged in (
        updates["block"]["dense"]["bias"],
        updates["block"]["norm"]["scale"],
        updates["items"]["embedding"],
    ):
        assert float(jnp.abs(unchanged).max()) == 0


@pytest.mark.parametrize("clip_norm", [None, 1.0])
def test_gradients_reach_adam_clipped_to_the_global_norm(clip_norm):
    transform = make_optimizer(TrainConfig(clip_norm=clip_norm), total_steps=10)
    params = {"w": jnp.zeros(2)}
    _, state = transform.update({"w": jnp.array([30.0, 40.0])}, transform.init(params), params)
    first_moment = optax.tree.get(state, "mu")["w"]  # (1 - beta1) * the gradient Adam saw
    seen = np.asarray(first_moment) / (1 - TrainConfig().beta1)
    np.testing.assert_allclose(seen, [0.6, 0.8] if clip_norm else [30.0, 40.0], rtol=1e-5)


def test_frozen_entries_get_no_optimizer_state_and_no_update():
    params = {**PARAMS, "items": {"embedding": jnp.ones((3, 2)), "frozen_text": jnp.full((3, 4), 0.5)}}
    transform = make_optimizer(TrainConfig(optimizer="adamw", learning_rate=0.1, weight_decay=0.5), total_steps=10)
    state = transform.init(params)
    assert (3, 4) not in {leaf.shape for leaf in jax.tree.leaves(state)}
    grads = jax.tree.map(jnp.ones_like, params)
    updates, _ = transform.update(grads, state, params)
    np.testing.assert_array_equal(updates["items"]["frozen_text"], np.zeros((3, 4)))
    assert float(jnp.abs(updates["items"]["embedding"]).max()) > 0


def test_without_frozen_entries_the_optimizer_state_is_the_wrapped_optimizers():
    adam = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(0.1))
    state = skip_frozen(adam).init(PARAMS)
    assert jax.tree.structure(state) == jax.tree.structure(adam.init(PARAMS))
    with_frozen = {**PARAMS, "frozen_attributes": jnp.ones((3, 4))}
    assert jax.tree.structure(skip_frozen(adam).init(with_frozen)) == jax.tree.structure(state)
