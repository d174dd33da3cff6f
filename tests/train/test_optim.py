import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dynint.train.config import TrainConfig
from dynint.train.optim import learning_rate_schedule, make_optimizer, weight_decay_mask

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
