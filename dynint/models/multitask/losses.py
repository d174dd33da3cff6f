"""Task losses of the multitask models and how they are combined.

`engagement`: binary log loss over every sample. `like`: binary log loss over the engaged
samples only, or, for ESMM, the log loss of pCTCVR = pCTR x pCVR against "engaged and liked"
over every sample; either way a non-engaged sample's like label is never read. `rating`: squared
error over the engaged samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import optax

from dynint.data.ctr_samples import CTRBatch
from dynint.data.task_labels import ctcvr_labels, engaged, like_labels
from dynint.models.multitask.models import MultitaskOutputs

CLASSIFICATION_TASKS = ("engagement", "like")

# log(pCTCVR) stays below this, so log(1 - pCTCVR) and its gradient stay finite.
_MAX_LOG_PROBABILITY = -1e-7


def task_losses(
    outputs: MultitaskOutputs, batch: CTRBatch, like_threshold: float, entire_space: bool
) -> dict[str, jax.Array]:
    """Each trained task's mean loss on `batch` (see the module docstring)."""
    labels = batch.labels.astype(jnp.float32)
    mask = engaged(labels)
    count = jnp.maximum(jnp.sum(mask), 1)
    losses = {}
    scores = {task: output.astype(jnp.float32) for task, output in outputs.outputs.items()}  # float32 losses
    for task, output in scores.items():
        if task == "engagement":
            losses[task] = jnp.mean(optax.sigmoid_binary_cross_entropy(output, labels))
        elif task == "like" and entire_space:
            log_ctcvr = jax.nn.log_sigmoid(scores["engagement"]) + jax.nn.log_sigmoid(output)
            losses[task] = jnp.mean(log_loss(log_ctcvr, ctcvr_labels(labels, batch.ratings, like_threshold)))
        elif task == "like":
            per_sample = optax.sigmoid_binary_cross_entropy(output, like_labels(labels, batch.ratings, like_threshold))
            losses[task] = jnp.sum(jnp.where(mask, per_sample, 0.0)) / count
        else:
            errors = jnp.where(mask, output - batch.ratings, 0.0)
            losses[task] = jnp.sum(errors**2) / count
    return losses


def log_loss(log_probability: jax.Array, labels: jax.Array) -> jax.Array:
    """Binary log loss of a probability given as its logarithm (a product of sigmoids)."""
    log_probability = jnp.minimum(log_probability, _MAX_LOG_PROBABILITY)
    # log(1 - p) = log(-expm1(log p)), accurate for p near 0 and near 1.
    return -(labels * log_probability + (1.0 - labels) * jnp.log(-jnp.expm1(log_probability)))


def combine_losses(
    losses: dict[str, jax.Array], tasks: Sequence[str], weights: Sequence[float], log_variances: jax.Array | None
) -> jax.Array:
    """`sum_t w_t L_t` with fixed weights; with learned `log_variances` `s_t = log sigma_t^2`,
    Kendall et al.'s `exp(-s_t) L_t + s_t / 2` for a classification task and
    `exp(-s_t) L_t / 2 + s_t / 2` for a regression task."""
    if log_variances is None:
        return sum(weight * losses[task] for task, weight in zip(tasks, weights, strict=True))
    total = jnp.zeros(())
    for index, task in enumerate(tasks):
        scale = 1.0 if task in CLASSIFICATION_TASKS else 0.5
        total += scale * jnp.exp(-log_variances[index]) * losses[task] + 0.5 * log_variances[index]
    return total
