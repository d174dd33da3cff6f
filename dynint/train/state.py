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


@struct.dataclass
class StepGuard:
    """What the train step knows of non-finite steps, carried through it beside the state (and
    saved in a checkpoint's progress record, not in the state, so older checkpoints still load).

    `consecutive` non-finite steps up to the last one, `skipped` in all; `halted` once a run
    must stop (from then on a step changes nothing), with the step number (from 1) that halted
    it in `halt_step` and in `halt_cause` which quantity was not finite (`NONFINITE_LOSS`,
    `NONFINITE_GRADIENT`, or both bits)."""

    consecutive: jax.Array
    skipped: jax.Array
    halted: jax.Array
    halt_step: jax.Array
    halt_cause: jax.Array


NONFINITE_LOSS = 1
NONFINITE_GRADIENT = 2


def init_guard(consecutive: int = 0, skipped: int = 0) -> StepGuard:
    def count(value: int) -> jax.Array:
        return jnp.asarray(value, jnp.int32)

    return StepGuard(count(consecutive), count(skipped), jnp.asarray(False), count(0), count(0))


def nonfinite_quantity(cause: int) -> str:
    """The words for a `StepGuard.halt_cause`."""
    names = [name for bit, name in ((NONFINITE_LOSS, "loss"), (NONFINITE_GRADIENT, "gradient norm")) if cause & bit]
    return " and ".join(names) or "nothing"
