"""Auxiliary training losses a layer adds from inside a model (such as a mixture of experts'
load-balancing loss), and the one way the engine collects them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx


class AuxiliaryLoss(nnx.Intermediate):
    """A scalar, already weighted, that a layer sows during a training forward pass; the
    training loss adds the sum of all of them."""


def with_auxiliary_loss(forward: Callable[..., Any]) -> Callable[..., tuple[Any, jax.Array]]:
    """`forward(module, *args)` -> `(its output, the sum of the AuxiliaryLoss values sown while
    it ran)` (0 when none was)."""
    captured = nnx.capture(forward, AuxiliaryLoss)

    def run(*args: Any, **kwargs: Any) -> tuple[Any, jax.Array]:
        output, sown = captured(*args, **kwargs)
        values = [jnp.sum(jnp.asarray(value)) for value in jax.tree.leaves(sown)]
        return output, sum(values, jnp.zeros((), jnp.float32))

    return run


def _training_call(model: Any, inputs: Any, dropout: Any) -> Any:
    return model(inputs, dropout=dropout)


training_forward = with_auxiliary_loss(_training_call)
"""`training_forward(model, inputs, dropout_keys)` -> `(model(inputs, dropout=dropout_keys), the sum
of the AuxiliaryLoss values it sowed)`: the forward pass every training loss makes."""
