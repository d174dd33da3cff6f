"""Tiny models and a jitted forward pass, shared by the model and training tests."""

from __future__ import annotations

from functools import lru_cache, partial

import jax
from flax import nnx

from dynint.models import MODELS
from dynint.train.state import split_model

NUM_ITEMS = 30
MAX_LENGTH = 8
TINY = {"hidden_size": 8, "num_layers": 2, "num_heads": 2, "inner_size": 16}


def tiny_model(name: str, **overrides):
    """(graphdef, params) of a tiny `name` model; params are a fresh dict the caller may modify."""
    graphdef, params = _tiny_model(name, tuple(sorted(overrides.items())))
    return graphdef, jax.tree.map(lambda x: x, params)


@lru_cache
def _tiny_model(name: str, overrides: tuple):
    config_class, module_class = MODELS[name]
    sizes = {k: v for k, v in TINY.items() if k in config_class.__dataclass_fields__}
    config = config_class(**{**sizes, **dict(overrides)})
    return split_model(module_class(config, NUM_ITEMS, MAX_LENGTH, rngs=nnx.Rngs(params=0)))


@partial(jax.jit, static_argnums=0)
def forward(graphdef, params, inputs, positions=None):
    return nnx.merge(graphdef, params)(inputs, positions=positions)


def with_padding_embedding(params, value: float):
    """`params` with the padding item's embedding row (row 0) set to `value`."""
    items = params["embed"]["items"] if "embed" in params else params["items"]
    items["embedding"] = items["embedding"].at[0].set(value)
    return params
