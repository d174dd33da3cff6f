"""Next-item losses over the predicted positions of a batch, all sharing one item table.

Every loss takes `hidden` `(T, d)` (one row per predicted position), the item table `(V + 1, d)`
(row 0 is padding and never a candidate), integer `targets` `(T,)` and float `weights` `(T,)`
(0 for unused slots of the static token buffer), and returns the weighted mean loss.
Negatives are drawn uniformly from the items other than the position's target.

`candidates` (sorted item ids, every target among them) restricts the items a loss may use as
negatives, softmax terms included: the training catalogue. Under item cold start the held-out
items are not in it, so training never sees them, not even as negatives. None: items `1..V`.
`catalogue_size` (a traced scalar `n`) restricts them to the prefix `1..n` instead: a table with
reserved rows past the catalogue (the streaming protocol's growing catalogue) trains as a table
of `n` items, its reserved rows get no gradient, and a growing `n` changes no compiled shape.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import jax
import jax.numpy as jnp

LossName = Literal["ce", "bce", "sampled-softmax", "gbce"]
LOSSES: tuple[str, ...] = ("ce", "bce", "sampled-softmax", "gbce")


def full_softmax_cross_entropy(
    hidden: jax.Array,
    table: jax.Array,
    targets: jax.Array,
    weights: jax.Array,
    chunk_size: int = 128,
    candidates: jax.Array | None = None,
    catalogue_size: jax.Array | None = None,
) -> jax.Array:
    """Cross-entropy of a softmax over all items `1..V` (or over `candidates`, or `1..catalogue_size`).

    The `(T, V)` logits are the costliest tensor of training. They are processed `chunk_size`
    positions at a time, and the gradient is computed in the same pass (the loss is a scalar,
    so its gradient is known up to the incoming scale): memory stays O(chunk_size * V) and the
    logits are never re-read by a separate backward pass.
    """
    chunk = _chunk_for(len(targets), chunk_size)
    if candidates is None:
        return _chunked_cross_entropy(hidden, table, targets, weights, catalogue_size, chunk)
    if catalogue_size is not None:
        raise ValueError("give candidates or catalogue_size, not both")
    # The softmax runs over the candidates' rows only; gathering them routes their gradient back to
    # the table, and rows outside the catalogue get none.
    rows = table[candidates]
    positions = jnp.searchsorted(candidates, targets)
    padded = jnp.concatenate([jnp.zeros_like(table[:1]), rows])
    return _chunked_cross_entropy(hidden, padded, positions + 1, weights, None, chunk)


def _chunk_for(count: int, limit: int) -> int:
    """The largest divisor of `count` that is at most `limit` (a power of two when `count` allows)."""
    size = min(limit, count)
    while count % size:
        size -= 1
    return size


@partial(jax.custom_vjp, nondiff_argnums=(5,))
def _chunked_cross_entropy(hidden, table, targets, weights, catalogue_size, chunk_size):
    return _chunked_cross_entropy_with_gradient(hidden, table, targets, weights, catalogue_size, chunk_size)[0]


def _chunked_cross_entropy_with_gradient(hidden, table, targets, weights, catalogue_size, chunk_size):
    # The candidates are kept as a `(d, V)` matrix: on CPU, `h @ C` and `h.T @ g` with that layout
    # run markedly faster than the same products against the `(V, d)` table and its transpose.
    candidates = table[1:]
    candidates_by_column = candidates.T
    scale = weights / jnp.maximum(jnp.sum(weights), 1.0)
    item_ids = jnp.arange(1, table.shape[0])[None, :]

    def chunk(candidates_gradient, inputs):
        h, s = inputs
        logits = h @ candidates_by_column
        if catalogue_size is not None:  # reserved rows past the catalogue: no softmax term, no gradient
            logits = jnp.where(item_ids <= catalogue_size, logits, -jnp.inf)
        peak = jnp.max(logits, axis=-1, keepdims=True)
        exp = jnp.exp(logits - peak)
        total = jnp.sum(exp, axis=-1, keepdims=True)
        softmax_gradient = exp * (s[:, None] / total)
        log_normaliser = (jnp.log(total) + peak)[:, 0]
        return candidates_gradient + h.T @ softmax_gradient, (log_normaliser, softmax_gradient @ candidates)

    shape = (-1, chunk_size)
    candidates_gradient, (log_normaliser, hidden_gradient) = jax.lax.scan(
        chunk, jnp.zeros_like(candidates_by_column), (hidden.reshape(*shape, hidden.shape[-1]), scale.reshape(shape))
    )
    target_rows = table[targets]
    loss = jnp.sum((log_normaliser.reshape(-1) - jnp.sum(hidden * target_rows, axis=-1)) * scale)
    hidden_gradient = hidden_gradient.reshape(hidden.shape) - target_rows * scale[:, None]
    table_gradient = jnp.concatenate([jnp.zeros_like(table[:1]), candidates_gradient.T])
    table_gradient = table_gradient.at[targets].add(-hidden * scale[:, None])
    return loss, (hidden_gradient, table_gradient)


def _chunked_cross_entropy_forward(hidden, table, targets, weights, catalogue_size, chunk_size):
    return _chunked_cross_entropy_with_gradient(hidden, table, targets, weights, catalogue_size, chunk_size)


def _chunked_cross_entropy_backward(chunk_size, gradients, cotangent):
    hidden_gradient, table_gradient = gradients
    return cotangent * hidden_gradient, cotangent * table_gradient, None, None, None


_chunked_cross_entropy.defvjp(_chunked_cross_entropy_forward, _chunked_cross_entropy_backward)


def binary_cross_entropy(
    hidden: jax.Array,
    table: jax.Array,
    targets: jax.Array,
    weights: jax.Array,
    key: jax.Array,
    candidates: jax.Array | None = None,
    catalogue_size: jax.Array | None = None,
) -> jax.Array:
    """The original SASRec loss: a positive and one sampled negative per position, each a logistic loss."""
    return generalized_binary_cross_entropy(hidden, table, targets, weights, key, 1, 0.0, candidates, catalogue_size)


def sampled_softmax(
    hidden: jax.Array,
    table: jax.Array,
    targets: jax.Array,
    weights: jax.Array,
    key: jax.Array,
    num_negatives: int,
    candidates: jax.Array | None = None,
    catalogue_size: jax.Array | None = None,
) -> jax.Array:
    """Cross-entropy of a softmax over the target and `num_negatives` sampled items."""
    positive, negative = _positive_and_negative_logits(
        hidden, table, targets, key, num_negatives, candidates, catalogue_size
    )
    logits = jnp.concatenate([positive[:, None], negative], axis=1)
    return _weighted_mean(jax.nn.logsumexp(logits, axis=-1) - positive, weights)


def generalized_binary_cross_entropy(
    hidden: jax.Array,
    table: jax.Array,
    targets: jax.Array,
    weights: jax.Array,
    key: jax.Array,
    num_negatives: int,
    t: float,
    candidates: jax.Array | None = None,
    catalogue_size: jax.Array | None = None,
) -> jax.Array:
    """gBCE (Petrov & Macdonald, RecSys 2023): `-beta log sigmoid(s+) - sum_j log(1 - sigmoid(s_j))`.

    `beta = alpha (t (1 - 1/alpha) + 1/alpha)` with sampling rate `alpha = num_negatives / (V - 1)`
    counters the overconfidence that negative sampling causes; `t = 0` is plain BCE, `t = 1`
    the fully calibrated loss.
    """
    num_items = _catalogue_count(table, candidates, catalogue_size)
    alpha = num_negatives / jnp.maximum(num_items - 1, 1)
    beta = alpha * (t * (1.0 - 1.0 / alpha) + 1.0 / alpha)
    positive, negative = _positive_and_negative_logits(
        hidden, table, targets, key, num_negatives, candidates, catalogue_size
    )
    per_position = -beta * jax.nn.log_sigmoid(positive) + jnp.sum(jax.nn.softplus(negative), axis=-1)
    return _weighted_mean(per_position, weights)


def sequence_loss(
    name: str,
    hidden: jax.Array,
    table: jax.Array,
    targets: jax.Array,
    weights: jax.Array,
    key: jax.Array,
    *,
    num_negatives: int = 1,
    gbce_t: float = 0.75,
    candidates: jax.Array | None = None,
    catalogue_size: jax.Array | None = None,
) -> jax.Array:
    """The loss `name` (one of `LOSSES`); `key` draws negatives for the sampled losses."""
    catalogue = {"candidates": candidates, "catalogue_size": catalogue_size}
    if name == "ce":
        return full_softmax_cross_entropy(hidden, table, targets, weights, **catalogue)
    if name == "bce":
        return binary_cross_entropy(hidden, table, targets, weights, key, **catalogue)
    if name == "sampled-softmax":
        return sampled_softmax(hidden, table, targets, weights, key, num_negatives, **catalogue)
    if name == "gbce":
        return generalized_binary_cross_entropy(
            hidden, table, targets, weights, key, num_negatives, gbce_t, **catalogue
        )
    raise ValueError(f"unknown loss {name!r}; expected one of {', '.join(LOSSES)}")


def sample_negatives(key: jax.Array, targets: jax.Array, num_items: int, num_negatives: int) -> jax.Array:
    """`(T, num_negatives)` items drawn uniformly, with replacement, from `1..num_items` minus each target."""
    offsets = jax.random.randint(key, (*targets.shape, num_negatives), 1, num_items, dtype=targets.dtype)
    return 1 + (targets[:, None] - 1 + offsets) % num_items


def _positive_and_negative_logits(
    hidden: jax.Array,
    table: jax.Array,
    targets: jax.Array,
    key: jax.Array,
    num_negatives: int,
    candidates: jax.Array | None = None,
    catalogue_size: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    if candidates is None:
        negatives = sample_negatives(key, targets, _catalogue_count(table, None, catalogue_size), num_negatives)
    else:  # drawn among the candidates, by their positions 1..C in the candidate list
        positions = 1 + jnp.searchsorted(candidates, targets)
        negatives = candidates[sample_negatives(key, positions, candidates.shape[0], num_negatives) - 1]
    positive = jnp.sum(hidden * table[targets], axis=-1)
    negative = jnp.einsum("td,tnd->tn", hidden, table[negatives])
    return positive, negative


def _catalogue_count(table: jax.Array, candidates: jax.Array | None, catalogue_size: jax.Array | None):
    """How many items a loss ranges over: the candidates, the catalogue prefix, or the whole table."""
    if candidates is not None and catalogue_size is not None:
        raise ValueError("give candidates or catalogue_size, not both")
    if candidates is not None:
        return candidates.shape[0]
    return table.shape[0] - 1 if catalogue_size is None else catalogue_size


def _weighted_mean(values: jax.Array, weights: jax.Array) -> jax.Array:
    return jnp.sum(values * weights) / jnp.maximum(jnp.sum(weights), 1.0)
