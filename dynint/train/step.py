"""The jit-compiled train step (loss, gradient, optax update) and the next-item loss it is given
for sequence models. Other model families bring their own `LossFn`; the step is the same."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import optax
from flax import nnx
from jax.sharding import Mesh

from dynint.models.auxiliary import training_forward
from dynint.models.dropout import DropoutKeys
from dynint.models.losses import sequence_loss
from dynint.train import sharding
from dynint.train.batching import TrainBatch
from dynint.train.state import TrainState

LossFn = Callable[[Any, Any, jax.Array], jax.Array]
"""`loss(params, batch, key) -> scalar`: a batch's mean loss, its randomness drawn from `key`."""


def sequence_loss_fn(graphdef: Any, model_config: Any) -> LossFn:
    """The next-item loss of a sequence model: mean over the batch's predicted positions, with
    dropout and sampled negatives drawn from the step key, plus the auxiliary losses the model's
    layers sow (a mixture of experts' load balancing). Only the gathered positions reach the
    item table."""

    def loss(params: Any, batch: TrainBatch, key: jax.Array) -> jax.Array:
        dropout_key, negative_key = jax.random.split(key)
        model = nnx.merge(graphdef, params)
        hidden, auxiliary = training_forward(model, batch.inputs, DropoutKeys(dropout_key))
        tokens = hidden.reshape(-1, hidden.shape[-1])[batch.token_index]
        return auxiliary + sequence_loss(
            model_config.loss,
            tokens,
            model.output_table(),
            batch.token_target,
            batch.token_weight,
            negative_key,
            num_negatives=model_config.num_negatives,
            gbce_t=model_config.gbce_t,
        )

    return loss


def make_train_step(
    loss: LossFn, optimizer: optax.GradientTransformation, mesh: Mesh, state_shardings: Any
) -> Callable[[TrainState, Any], tuple[TrainState, jax.Array]]:
    """`step(state, batch) -> (new state, loss)`, jit-compiled with the state donated: every
    array of a batch split over the mesh's `data` axis (its first dimension), the state kept in
    `state_shardings`. The step key is `fold_in(state.key, state.step)`."""

    def train_step(state: TrainState, batch: Any) -> tuple[TrainState, jax.Array]:
        key = jax.random.fold_in(jax.random.wrap_key_data(state.key), state.step)
        value, grads = jax.value_and_grad(loss)(state.params, batch, key)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return state.replace(params=params, opt_state=opt_state, step=state.step + 1), value

    return jax.jit(
        train_step,
        in_shardings=(state_shardings, sharding.batch_sharding(mesh)),  # one sharding for every batch array
        out_shardings=(state_shardings, sharding.replicated(mesh)),
        donate_argnums=0,
    )
