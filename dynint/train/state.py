"""The training state: everything a train step reads and writes, as one pytree of arrays."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx, struct


@struct.dataclass
class TrainState:
    """Parameters (a plain nested dict), optimizer state, the number of steps taken, and the raw
    key all step randomness derives from (`fold_in(key, step)`), so that restoring the state
    restores the random stream too."""

    params: Any
    opt_state: Any
    step: jax.Array
    key: jax.Array


def init_model(build: Any, model_config: Any, num_items: int, max_length: int, key: jax.Array) -> tuple[Any, Any]:
    """Build the model with parameters drawn from `key`; returns (graphdef, params as a pure dict)."""
    model = build(model_config, num_items, max_length, rngs=nnx.Rngs(params=key))
    graphdef, state = nnx.split(model)
    return graphdef, nnx.to_pure_dict(state)


def init_state(params: Any, optimizer: optax.GradientTransformation, key: jax.Array) -> TrainState:
    return TrainState(
        params=params,
        opt_state=optimizer.init(params),
        step=jnp.zeros((), jnp.int32),
        key=jax.random.key_data(key),
    )
