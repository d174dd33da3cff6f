"""The DP-SGD gradient of a sequence model's batch: per-user gradients, clipped, summed, noised."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from dynint.train.batching import TrainBatch
from dynint.train.step import LossFn


def per_user_batches(batch: TrainBatch) -> TrainBatch:
    """`batch` as `B` single-row batches stacked on a leading axis: row `b`'s inputs `(1, L)` with
    its own predicted positions (`L` token slots, unused ones weighted 0)."""
    rows, length = batch.item_ids.shape
    flat = rows * length
    target = jnp.zeros(flat, batch.token_target.dtype).at[batch.token_index].set(batch.token_target, mode="drop")
    weight = jnp.zeros(flat, batch.token_weight.dtype).at[batch.token_index].add(batch.token_weight, mode="drop")
    size = None if batch.catalogue_size is None else batch.catalogue_size[:, None]
    return TrainBatch(
        inputs=jax.tree.map(lambda field: field[:, None, :], batch.inputs),
        token_index=jnp.broadcast_to(jnp.arange(length, dtype=batch.token_index.dtype), (rows, length)),
        token_target=target.reshape(rows, length),
        token_weight=weight.reshape(rows, length),
        catalogue_size=size,
    )


def private_value_and_grad(
    loss: LossFn, clip_norm: float, noise_multiplier: float, chunk_size: int | None = None
) -> Callable[[Any, TrainBatch, jax.Array], tuple[jax.Array, Any]]:
    """`(params, batch, key) -> (loss, gradient)` under DP-SGD, for `B'` users with a predicted
    position and `N` positions in the batch. User `i` (`n_i` positions, mean loss `m_i`) is one
    example with loss `L_i = B' n_i m_i / N`, so that the mean of the `L_i` is the batch's mean
    over positions, the non-private loss. Each `grad L_i` is clipped to `clip_norm`; the clipped
    gradients are summed, Gaussian noise of std `noise_multiplier * clip_norm` is added to every
    coordinate, and the sum is divided by `B'`. With no noise and no clipping (`inf`) this is the
    non-private gradient (dropout and sampled negatives aside: each user draws their own).

    `chunk_size` bounds memory: the per-user gradients are computed, clipped and summed `chunk_size`
    users at a time (a scan), and the noise is added once to the whole batch's sum, so the step,
    and its privacy, is the same as with every user's gradient in memory at once."""

    def value_and_grad(params: Any, batch: TrainBatch, key: jax.Array) -> tuple[jax.Array, Any]:
        step_key, noise_key = jax.random.split(key)
        users = per_user_batches(batch)
        rows = batch.item_ids.shape[0]
        keys = jax.random.split(step_key, rows)
        positions = jnp.sum(users.token_weight, axis=1)
        present = (positions > 0).astype(jnp.float32)
        count = jnp.maximum(jnp.sum(present), 1.0)
        weight = present * count * positions / jnp.maximum(jnp.sum(positions), 1.0)  # L_i = weight_i * m_i

        def clipped_sum(chunk: tuple[TrainBatch, jax.Array, jax.Array]) -> tuple[jax.Array, Any]:
            """The chunk's weighted loss and its users' clipped gradients, summed."""
            chunk_users, chunk_keys, chunk_weight = chunk
            means, grads = jax.vmap(jax.value_and_grad(loss), in_axes=(None, 0, 0))(params, chunk_users, chunk_keys)
            norms = chunk_weight * jax.vmap(optax.tree.norm)(grads)
            scale = chunk_weight * jnp.minimum(1.0, clip_norm / jnp.maximum(norms, 1e-30))
            summed = jax.tree.map(lambda g: jnp.tensordot(scale, g, axes=1), grads)
            return jnp.sum(chunk_weight * means), summed

        if chunk_size is None or chunk_size >= rows:
            total, summed = clipped_sum((users, keys, weight))
        else:
            chunks = -(-rows // chunk_size)
            slots = jnp.arange(chunks * chunk_size)
            padded_users, padded_keys, padded_weight = jax.tree.map(
                lambda field: field[slots % rows], (users, keys, weight)
            )
            padded_weight = jnp.where(slots < rows, padded_weight, 0.0)  # extra slots repeat real users at weight 0
            in_chunks = jax.tree.map(
                lambda field: field.reshape(chunks, chunk_size, *field.shape[1:]),
                (padded_users, padded_keys, padded_weight),
            )

            def accumulate(carry: tuple[jax.Array, Any], chunk: Any) -> tuple[tuple[jax.Array, Any], None]:
                value, summed = clipped_sum(chunk)
                return (carry[0] + value, jax.tree.map(jnp.add, carry[1], summed)), None

            zeros = jax.tree.map(jnp.zeros_like, params)
            (total, summed), _ = jax.lax.scan(accumulate, (jnp.zeros(()), zeros), in_chunks)
        noise_std = noise_multiplier * clip_norm if noise_multiplier else 0.0
        return total / count, noised_mean(summed, noise_std, count, noise_key)

    return value_and_grad


def noised_mean(summed: Any, noise_std: float, total: jax.Array, key: jax.Array) -> Any:
    """`summed` (a pytree) with Gaussian noise of std `noise_std` added to every coordinate (none
    when it is 0), divided by `total`: the last step of DP-SGD and of DP-FedAvg."""
    leaves, treedef = jax.tree.flatten(summed)
    keys = jax.random.split(key, len(leaves))
    return jax.tree.unflatten(
        treedef,
        [
            (leaf + noise_std * jax.random.normal(k, leaf.shape, leaf.dtype)) / total if noise_std else leaf / total
            for leaf, k in zip(leaves, keys, strict=True)
        ],
    )
