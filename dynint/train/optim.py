"""The optax optimizer a `TrainConfig` describes: Adam/AdamW, warm-up and decay, clipping, a weight-decay mask."""

from __future__ import annotations

from typing import Any

import jax
import optax

from dynint.train.config import TrainConfig


def learning_rate_schedule(config: TrainConfig, total_steps: int) -> optax.Schedule:
    """Linear warm-up over `warmup_steps`, then constant, cosine or linear decay to the final fraction."""
    peak = config.learning_rate
    final = peak * config.final_learning_rate_fraction
    decay_steps = max(total_steps - config.warmup_steps, 1)
    if config.schedule == "constant":
        decay = optax.constant_schedule(peak)
    elif config.schedule == "cosine":
        decay = optax.cosine_decay_schedule(peak, decay_steps, alpha=config.final_learning_rate_fraction)
    else:
        decay = optax.linear_schedule(peak, final, decay_steps)
    if config.warmup_steps == 0:
        return decay
    warmup = optax.linear_schedule(0.0, peak, config.warmup_steps)
    return optax.join_schedules([warmup, decay], [config.warmup_steps])


def weight_decay_mask(params: Any, decay_embeddings: bool) -> Any:
    """True for the parameters weight decay applies to: matrices (`kernel`), and embedding tables
    if `decay_embeddings`; never biases or normalisation parameters."""

    def decays(path, _) -> bool:
        name = str(getattr(path[-1], "key", path[-1]))
        return name == "kernel" or (decay_embeddings and name == "embedding")

    return jax.tree_util.tree_map_with_path(decays, params)


def make_optimizer(config: TrainConfig, total_steps: int) -> optax.GradientTransformation:
    schedule = learning_rate_schedule(config, total_steps)
    if config.optimizer == "adamw":
        optimizer = optax.adamw(
            schedule,
            b1=config.beta1,
            b2=config.beta2,
            weight_decay=config.weight_decay,
            mask=lambda params: weight_decay_mask(params, config.decay_embeddings),
        )
    else:
        # Adam with coupled L2 decay (added to the gradient), as torch's Adam(weight_decay=...) does.
        optimizer = optax.chain(
            optax.add_decayed_weights(
                config.weight_decay, mask=lambda params: weight_decay_mask(params, config.decay_embeddings)
            ),
            optax.adam(schedule, b1=config.beta1, b2=config.beta2),
        )
    if config.clip_norm is not None:
        optimizer = optax.chain(optax.clip_by_global_norm(config.clip_norm), optimizer)
    return optimizer
