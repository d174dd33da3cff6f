"""Sparse attention (dynint/models/sparse_attention.py): equal to dense causal attention when the
window covers the sequence, equal to a dense masked reference for every pattern, never looking
at the future or at padding, and never building an (L, L) array."""

from __future__ import annotations

from functools import partial

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from dynint.errors import ConfigError
from dynint.models import MODELS
from dynint.models.dropout import Dropout, DropoutKeys
from dynint.models.sparse_attention import AttentionPattern, sparse_self_attention
from dynint.models.transformer import attention_mask
from tests.models.tiny_models import NUM_ITEMS

LENGTH = 13  # not a multiple of any window or stride below, so every block layout pads
LENGTHS = np.array([13, 9, 1])
PATTERNS = {
    "window": AttentionPattern(window=3),
    "strided": AttentionPattern(window=2, stride=4),
    "global": AttentionPattern(window=3, num_global=2),
    "all": AttentionPattern(window=2, stride=3, num_global=2),
    "stride-inside-window": AttentionPattern(window=5, stride=2, num_global=6),
}


def _inputs(seed: int = 0):
    q, k, v = jax.random.normal(jax.random.key(seed), (3, len(LENGTHS), LENGTH, 2, 4))
    valid = jnp.arange(LENGTH)[None, :] < LENGTHS[:, None]
    return q, k, v, valid


@jax.jit
def _dense_reference(q, k, v, mask):
    """Softmax attention over the keys `mask` `(B, 1, Q, L)` allows; 0 for a query with none."""
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / jnp.sqrt(q.shape[-1])
    weights = jnp.where(mask, jnp.exp(logits - jnp.max(logits, axis=-1, keepdims=True)), 0.0)
    weights = weights / jnp.maximum(jnp.sum(weights, axis=-1, keepdims=True), 1e-30)
    return jnp.einsum("bhqk,bkhd->bqhd", weights, v)


@partial(jax.jit, static_argnums=(4, 5))
def _sparse(q, k, v, valid, pattern, rate=0.0, key=None):
    return sparse_self_attention(q, k, v, valid, pattern, Dropout(rate), None if key is None else DropoutKeys(key))


@pytest.mark.parametrize("window", [LENGTH, 64])
def test_a_window_covering_the_sequence_equals_dense_causal_attention(window):
    q, k, v, valid = _inputs()
    dense = _dense_reference(q, k, v, attention_mask(valid, causal=True))
    np.testing.assert_allclose(_sparse(q, k, v, valid, AttentionPattern(window=window)), dense, atol=1e-5)


def test_the_pattern_mask_lists_the_window_the_strided_and_the_global_keys():
    mask = np.asarray(AttentionPattern(window=2, stride=3, num_global=1).mask(jnp.ones((1, 8), bool)))[0, 0]
    assert np.flatnonzero(mask[7]).tolist() == [0, 1, 4, 6, 7]  # global 0; stride 7-3, 7-6; window 6, 7
    assert np.flatnonzero(mask[3]).tolist() == [0, 2, 3]
    assert not np.any(np.triu(mask, 1))


@pytest.mark.parametrize("name", PATTERNS)
def test_every_pattern_equals_the_dense_reference_under_its_mask(name):
    q, k, v, valid = _inputs(seed=1)
    pattern = PATTERNS[name]
    reference = _dense_reference(q, k, v, pattern.mask(valid))
    np.testing.assert_allclose(_sparse(q, k, v, valid, pattern), reference, atol=1e-5)


def test_gradients_equal_those_of_the_dense_reference():
    q, k, v, valid = _inputs(seed=2)
    pattern = PATTERNS["all"]
    weights = jax.random.normal(jax.random.key(3), q.shape)

    def loss(attend, q, k, v):
        return jnp.sum(attend(q, k, v) * weights)

    sparse = jax.jit(jax.grad(lambda *a: loss(lambda *b: _sparse(*b, valid, pattern), *a), argnums=(0, 1, 2)))
    dense = jax.jit(
        jax.grad(lambda *a: loss(lambda *b: _dense_reference(*b, pattern.mask(valid)), *a), argnums=(0, 1, 2))
    )
    for got, expected in zip(sparse(q, k, v), dense(q, k, v), strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_attention_dropout_acts_only_when_keys_are_given():
    q, k, v, valid = _inputs()
    pattern = PATTERNS["all"]
    plain = _sparse(q, k, v, valid, pattern)
    same = _sparse(q, k, v, valid, pattern, 0.5)
    dropped = _sparse(q, k, v, valid, pattern, 0.5, jax.random.key(0))
    np.testing.assert_array_equal(same, plain)
    assert not np.allclose(dropped, plain)


@pytest.mark.parametrize("key, value", [("window", 0), ("stride", -1), ("num_global", -2)])
def test_a_bad_pattern_names_its_key(key, value):
    with pytest.raises(ConfigError, match=f"model.attention.{key}"):
        AttentionPattern(**{key: value})


def _shapes(jaxpr) -> set[tuple[int, ...]]:
    """Every intermediate array shape of `jaxpr`, nested jaxprs (scans, custom rules) included."""
    shapes = set()
    for equation in jaxpr.eqns:
        shapes.update(tuple(v.aval.shape) for v in equation.outvars if hasattr(v.aval, "shape"))
        for sub in jax.extend.core.jaxprs_in_params(equation.params):
            shapes |= _shapes(sub)
    return shapes


@pytest.mark.parametrize("name, builds_square", [("sparse-sasrec", False), ("sasrec", True)])
def test_only_dense_attention_builds_a_length_by_length_array_in_the_train_pass(name, builds_square):
    length = 512
    config = {"attention": AttentionPattern(window=32, stride=0, num_global=2)} if name == "sparse-sasrec" else {}
    config_class, module_class = MODELS[name]
    model = module_class(
        config_class(hidden_size=8, num_heads=2, inner_size=16, **config), NUM_ITEMS, length, rngs=nnx.Rngs(0)
    )
    graphdef, params = nnx.split(model)
    inputs = jnp.ones((2, length), jnp.int32)

    def loss(params):
        hidden = nnx.merge(graphdef, params)(inputs, dropout=DropoutKeys(jax.random.key(0)))
        return jnp.sum(hidden**2)

    shapes = _shapes(jax.make_jaxpr(jax.grad(loss))(params).jaxpr)
    square = [s for s in shapes if sum(dim == length for dim in s) >= 2]
    assert bool(square) == builds_square, square
