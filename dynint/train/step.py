"""The jit-compiled train step (loss, gradient, optax update) and the next-item loss it is given
for sequence models. Other model families bring their own `LossFn`; the step is the same."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh

from dynint.models.auxiliary import training_forward
from dynint.models.dropout import DropoutKeys
from dynint.models.losses import sequence_loss
from dynint.train import sharding
from dynint.train.batching import TrainBatch
from dynint.train.state import NONFINITE_GRADIENT, NONFINITE_LOSS, StepGuard, TrainState

LossFn = Callable[[Any, Any, jax.Array], jax.Array]
"""`loss(params, batch, key) -> scalar`: a batch's mean loss, its randomness drawn from `key`."""


def sequence_loss_fn(graphdef: Any, model_config: Any, candidates: np.ndarray | None = None) -> LossFn:
    """The next-item loss of a sequence model: mean over the batch's predicted positions, with
    dropout and sampled negatives drawn from the step key, plus the auxiliary losses the model's
    layers sow (a mixture of experts' load balancing). Only the gathered positions reach the
    item table. `candidates` (sorted item ids) is the training catalogue the loss draws negatives
    and softmax terms from (`Split.training_catalogue`); None: every item."""
    catalogue = None if candidates is None else jnp.asarray(candidates, dtype=jnp.int32)

    def loss(params: Any, batch: TrainBatch, key: jax.Array) -> jax.Array:
        dropout_key, negative_key = jax.random.split(key)
        model = nnx.merge(graphdef, params)
        hidden, auxiliary = training_forward(model, batch.inputs, DropoutKeys(dropout_key))
        tokens = hidden.reshape(-1, hidden.shape[-1])[batch.token_index].astype(jnp.float32)
        return auxiliary + sequence_loss(
            model_config.loss,
            tokens,
            model.output_table().astype(jnp.float32),  # the loss in float32 under mixed precision too
            batch.token_target,
            batch.token_weight,
            negative_key,
            num_negatives=model_config.num_negatives,
            gbce_t=model_config.gbce_t,
            candidates=catalogue,
            catalogue_size=None if batch.catalogue_size is None else jnp.max(batch.catalogue_size),
        )

    return loss


class StepOutputs(NamedTuple):
    """What a train step reports besides the new state: its loss and the global norm of its
    gradient (before clipping; DP-SGD's noised gradient under privacy), both NaN for a dropped step."""

    loss: jax.Array
    gradient_norm: jax.Array


def make_train_step(
    loss: LossFn,
    optimizer: optax.GradientTransformation,
    mesh: Mesh,
    state_shardings: Any,
    *,
    nonfinite_limit: int = 1,
    value_and_grad: Callable[[Any, Any, jax.Array], tuple[jax.Array, Any]] | None = None,
) -> Callable[[TrainState, StepGuard, Any], tuple[TrainState, StepGuard, StepOutputs]]:
    """`step(state, guard, batch) -> (new state, new guard, StepOutputs)`, jit-compiled with the
    state donated: every array of a batch split over the mesh's `data` axis (its first dimension), the
    state kept in `state_shardings`. The step key is `fold_in(state.key, state.step)`.

    A step whose loss or gradient norm is not finite leaves the parameters and optimizer state
    as they were (and reports a NaN loss and gradient norm); after `nonfinite_limit` such steps in a row the guard
    halts, and that step and every later one change nothing, not even `state.step`, so the state
    remains the last good one. The check costs no host sync: the caller reads `guard.halted`
    when it syncs anyway. `value_and_grad` replaces `jax.value_and_grad(loss)` (DP-SGD's private
    gradient, `dynint.privacy.dpsgd`)."""
    gradient = value_and_grad or jax.value_and_grad(loss)

    def train_step(state: TrainState, guard: StepGuard, batch: Any) -> tuple[TrainState, StepGuard, StepOutputs]:
        key = jax.random.fold_in(jax.random.wrap_key_data(state.key), state.step)
        value, grads = gradient(state.params, batch, key)
        gradient_norm = optax.tree.norm(grads)
        cause = jnp.where(jnp.isfinite(value), 0, NONFINITE_LOSS)
        cause |= jnp.where(jnp.isfinite(gradient_norm), 0, NONFINITE_GRADIENT)
        nonfinite = cause > 0
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        drop = nonfinite | guard.halted
        params, opt_state = jax.tree.map(
            lambda old, new: jnp.where(drop, old, new), (state.params, state.opt_state), (params, opt_state)
        )
        consecutive = jnp.where(nonfinite, guard.consecutive + 1, 0)
        halts = ~guard.halted & (consecutive >= nonfinite_limit)
        halted = guard.halted | halts
        # A halted state and guard stay as they were before the step that halted them: the last good ones.
        guard = StepGuard(
            consecutive=jnp.where(halted, guard.consecutive, consecutive),
            skipped=guard.skipped + (nonfinite & ~halted),
            halted=halted,
            halt_step=jnp.where(halts, state.step + 1, guard.halt_step),
            halt_cause=jnp.where(halts, cause, guard.halt_cause),
        )
        step = jnp.where(halted, state.step, state.step + 1)
        state = state.replace(params=params, opt_state=opt_state, step=step)
        return state, guard, StepOutputs(jnp.where(drop, jnp.nan, value), jnp.where(drop, jnp.nan, gradient_norm))

    replicated = sharding.replicated(mesh)
    return jax.jit(
        train_step,
        in_shardings=(state_shardings, replicated, sharding.batch_sharding(mesh)),  # one sharding for every batch array
        out_shardings=(state_shardings, replicated, replicated),
        donate_argnums=0,  # not the guard: the loop reads the previous step's while the next one runs
    )
