"""The jit-compiled train step: forward, loss on the gathered predicted positions, optax update."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import optax
from flax import nnx
from jax.sharding import Mesh

from dynint.models.dropout import DropoutKeys
from dynint.models.losses import sequence_loss
from dynint.train import sharding
from dynint.train.batching import TrainBatch
from dynint.train.state import TrainState


def batch_loss(graphdef: Any, model_config: Any, params: Any, batch: TrainBatch, key: jax.Array) -> jax.Array:
    """Mean loss over the batch's predicted positions, with dropout and sampled negatives drawn
    from `key`. Only the gathered positions reach the item table."""
    dropout_key, negative_key = jax.random.split(key)
    model = nnx.merge(graphdef, params)
    hidden = model(batch.inputs, dropout=DropoutKeys(dropout_key))
    tokens = hidden.reshape(-1, hidden.shape[-1])[batch.token_index]
    return sequence_loss(
        model_config.loss,
        tokens,
        model.output_table(),
        batch.token_target,
        batch.token_weight,
        negative_key,
        num_negatives=model_config.num_negatives,
        gbce_t=model_config.gbce_t,
    )


def make_train_step(
    graphdef: Any,
    model_config: Any,
    optimizer: optax.GradientTransformation,
    mesh: Mesh,
    state_shardings: Any,
) -> Callable[[TrainState, TrainBatch], tuple[TrainState, jax.Array]]:
    """`step(state, batch) -> (new state, loss)`, jit-compiled with the state donated: batches
    split over the mesh's `data` axis, the state kept in `state_shardings`."""

    def train_step(state: TrainState, batch: TrainBatch) -> tuple[TrainState, jax.Array]:
        key = jax.random.fold_in(jax.random.wrap_key_data(state.key), state.step)
        loss, grads = jax.value_and_grad(lambda p: batch_loss(graphdef, model_config, p, batch, key))(state.params)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return state.replace(params=params, opt_state=opt_state, step=state.step + 1), loss

    batch_sharding = sharding.batch_sharding(mesh)
    return jax.jit(
        train_step,
        in_shardings=(state_shardings, TrainBatch(*[batch_sharding] * len(TrainBatch._fields))),
        out_shardings=(state_shardings, sharding.replicated(mesh)),
        donate_argnums=0,
    )
