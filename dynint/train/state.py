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


def split_model(model: nnx.Module) -> tuple[nnx.GraphDef, dict[str, Any]]:
    """A module as its static structure and its parameters as a plain nested dict of arrays."""
    graphdef, state = nnx.split(model)
    return graphdef, nnx.to_pure_dict(state)


def init_state(params: Any, optimizer: optax.GradientTransformation, key: jax.Array) -> TrainState:
    return TrainState(
        params=params,
        opt_state=optimizer.init(params),
        step=jnp.zeros((), jnp.int32),
        key=jax.random.key_data(key),
    )
