"""Federated training, simulated on one machine: FedAvg (McMahan et al., AISTATS 2017) and, with
`train.privacy`, DP-FedAvg (McMahan et al., ICLR 2018), user-level.

Every user is a client holding their own sequence. One step of the training loop is one round:
the batch's users are the round's clients; each starts from the server's parameters and takes
`local_steps` SGD steps on its own next-item loss; the round's update is the mean of the clients'
parameter changes, weighted by their predicted positions (FedAvg) or, under DP, each change
clipped to `privacy.clip_norm`, Gaussian noise of std `noise_multiplier * clip_norm` added to
their sum and the sum divided by the clients (DP-FedAvg: equal weights bound each user's
influence). The server applies the negated update as a gradient with the run's optimizer, so
`train.optimizer: sgd` with `learning_rate: 1` is FedAvg itself and `adam` is FedAdam (Reddi et
al., ICLR 2021). An epoch is a pass in which every client takes part once; accounting is DP-SGD's
(the clients' sampling rate per round, `dynint.privacy.accounting`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from dynint.privacy.config import FederatedConfig
from dynint.privacy.dpsgd import noised_mean, per_user_batches
from dynint.train.batching import TrainBatch
from dynint.train.step import LossFn


def federated_value_and_grad(
    loss: LossFn,
    config: FederatedConfig,
    clip_norm: float = float("inf"),
    noise_multiplier: float = 0.0,
) -> Callable[[Any, TrainBatch, jax.Array], tuple[jax.Array, Any]]:
    """`(params, batch, key) -> (loss, pseudo-gradient)`: the round's mean client loss at the
    server's parameters and the negated aggregate of the clients' parameter changes (see the
    module notes). Without clipping and noise, and with one local step, the pseudo-gradient is
    `local_learning_rate` times the position-weighted mean gradient: plain SGD on the same batch."""

    def local_training(params: Any, user: TrainBatch, key: jax.Array) -> tuple[jax.Array, Any]:
        keys = jax.random.split(key, config.local_steps)

        def one_step(step: int, local: Any) -> Any:
            grads = jax.grad(loss)(local, user, keys[step])
            return jax.tree.map(lambda p, g: p - config.local_learning_rate * g, local, grads)

        start_loss = loss(params, user, keys[0])
        trained = jax.lax.fori_loop(0, config.local_steps, one_step, params)
        return start_loss, jax.tree.map(lambda new, old: new - old, trained, params)

    def value_and_grad(params: Any, batch: TrainBatch, key: jax.Array) -> tuple[jax.Array, Any]:
        round_key, noise_key = jax.random.split(key)
        users = per_user_batches(batch)
        keys = jax.random.split(round_key, batch.item_ids.shape[0])
        losses, changes = jax.vmap(local_training, in_axes=(None, 0, 0))(params, users, keys)
        positions = jnp.sum(users.token_weight, axis=1)
        present = (positions > 0).astype(jnp.float32)
        clients = jnp.maximum(jnp.sum(present), 1.0)
        if noise_multiplier or clip_norm != float("inf"):
            norms = jax.vmap(optax.tree.norm)(changes)
            weights = present * jnp.minimum(1.0, clip_norm / jnp.maximum(norms, 1e-30))
            total = clients
        else:
            weights = positions
            total = jnp.maximum(jnp.sum(positions), 1.0)
        summed = jax.tree.map(lambda change: jnp.tensordot(weights, change, axes=1), changes)
        update = noised_mean(summed, noise_multiplier * clip_norm if noise_multiplier else 0.0, total, noise_key)
        value = jnp.sum(positions * losses) / jnp.maximum(jnp.sum(positions), 1.0)
        return value, jax.tree.map(jnp.negative, update)

    return value_and_grad
