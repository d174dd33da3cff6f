"""The optax optimizer a `TrainConfig` describes: Adam/AdamW/SGD, warm-up and decay, clipping, a weight-decay mask.
Frozen model inputs (pretrained item content, `frozen_*` leaves) are left out of it."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from dynint.models.item_representation import is_frozen
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


def optimizer_key(train: TrainConfig, total_steps: int) -> tuple:
    """What `make_optimizer(train, total_steps)` depends on (the step count only where a decay uses
    it): the key under which fits share an optimizer and step (`dynint.train.step_reuse`). A setting
    `make_optimizer` comes to read belongs here too."""
    decays = train.schedule != "constant"
    return (
        train.optimizer,
        train.learning_rate,
        train.final_learning_rate_fraction,
        train.schedule,
        train.warmup_steps,
        train.beta1,
        train.beta2,
        train.weight_decay,
        train.decay_embeddings,
        train.clip_norm,
        total_steps if decays else None,
    )


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
    elif config.optimizer == "sgd":
        # Plain SGD with coupled L2 decay; with learning rate 1 it is FedAvg's server step (dynint.privacy.federated).
        optimizer = optax.chain(
            optax.add_decayed_weights(
                config.weight_decay, mask=lambda params: weight_decay_mask(params, config.decay_embeddings)
            ),
            optax.sgd(schedule),
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
    return skip_frozen(optimizer)


def skip_frozen(optimizer: optax.GradientTransformation) -> optax.GradientTransformation:
    """`optimizer` over the trainable parameters only: a `frozen_*` entry of the parameter dict
    gets no optimizer state and a zero update (nor does it count in clipping or decay). Without
    frozen entries the state is exactly `optimizer`'s."""

    def init(params: Any) -> Any:
        return optimizer.init(trainable_parameters(params))

    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        trainable, state = optimizer.update(
            trainable_parameters(updates), state, None if params is None else trainable_parameters(params)
        )
        return _with_frozen(trainable, updates), state

    return optax.GradientTransformation(init, update)


def trainable_parameters(tree: Any) -> Any:
    """A parameter dict (or one shaped like it: updates, gradients) without its frozen entries."""
    if not isinstance(tree, dict):
        return tree
    return {key: trainable_parameters(value) for key, value in tree.items() if not is_frozen(key)}


def _with_frozen(trainable: Any, like: Any) -> Any:
    """`trainable` with zeros back in place of `like`'s frozen entries."""
    if not isinstance(like, dict):
        return trainable
    return {
        key: jax.tree.map(jnp.zeros_like, value) if is_frozen(key) else _with_frozen(trainable[key], value)
        for key, value in like.items()
    }
