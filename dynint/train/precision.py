"""Mixed precision: the forward and backward passes in a lower-precision dtype, the master
parameters, the optimizer state and the loss in float32.

`set_compute_dtype` makes a model's Flax layers (dense, embedding, normalisation, recurrent
cells) compute in the compute dtype, their parameters kept in float32; `with_compute_dtype`
wraps a loss so that every floating-point parameter, also those the model reads directly (item
tables), enters the compiled step in the compute dtype (gradients flow back through the cast, to
float32). The loss functions cast what they compare (hidden states, item tables, logits) to
float32 first, so softmaxes and log-losses never run in bfloat16. Evaluation runs the same
layers, so a bfloat16 model is also scored in bfloat16 (from its float32 parameters).
"""

from __future__ import annotations

from typing import Any, Literal

import jax
import jax.numpy as jnp
from flax import nnx

from dynint.train.step import LossFn

ComputeDtype = Literal["float32", "bfloat16"]
COMPUTE_DTYPES: tuple[str, ...] = ("float32", "bfloat16")


def cast_floating(tree: Any, dtype: Any) -> Any:
    """`tree` with its floating-point leaves cast to `dtype` (integer leaves unchanged)."""

    def cast(leaf: Any) -> Any:
        return leaf.astype(dtype) if jnp.issubdtype(jnp.result_type(leaf), jnp.floating) else leaf

    return jax.tree.map(cast, tree)


def set_compute_dtype(model: nnx.Module, dtype: ComputeDtype) -> nnx.Module:
    """`model` (changed in place) with every Flax layer that has a compute dtype computing in `dtype`."""
    if dtype == "float32":
        return model
    compute = jnp.dtype(dtype)
    for _, module in nnx.iter_modules(model):
        if hasattr(module, "dtype") and hasattr(module, "param_dtype"):
            module.dtype = compute
    return model


def with_compute_dtype(loss: LossFn, dtype: ComputeDtype) -> LossFn:
    """`loss` computed with its parameters in `dtype` (float32: `loss` itself); the value is float32."""
    if dtype == "float32":
        return loss
    compute = jnp.dtype(dtype)

    def lower_precision_loss(params: Any, batch: Any, key: jax.Array) -> jax.Array:
        return loss(cast_floating(params, compute), batch, key).astype(jnp.float32)

    return lower_precision_loss
