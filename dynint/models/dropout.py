"""Dropout for the models: explicit per-step keys, and one random byte per dropped unit.

On CPU, JAX's default (threefry) generator is a large share of a small model's step time and of
its compile time: every key derivation and every draw is a hash loop of its own. So a train
step splits its dropout key once into `DropoutKeys`, and each dropout site takes the next key
and draws one 32-bit word per four units.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

_MAX_SITES = 64


class DropoutKeys:
    """The keys a forward pass's dropout sites use, in call order, split from one key at once."""

    def __init__(self, key: jax.Array, count: int = _MAX_SITES):
        self._keys = jax.random.split(key, count)
        self._used = 0

    def next(self) -> jax.Array:
        if self._used == len(self._keys):
            raise RuntimeError(f"a forward pass used more than {len(self._keys)} dropout keys")
        self._used += 1
        return self._keys[self._used - 1]


class Dropout(nnx.Module):
    """Inverted dropout, active only when called with `DropoutKeys`.

    Each random byte decides one unit, so the keep probability is rounded to a multiple of 1/256
    (`rate=0.2` keeps 205/256 = 0.8008) and kept units are scaled by the inverse of that rounded
    probability, which keeps expectations exact.
    """

    def __init__(self, rate: float):
        self.rate = rate
        self.keep_bytes = round((1.0 - rate) * 256)

    def __call__(self, x: jax.Array, keys: DropoutKeys | None) -> jax.Array:
        if keys is None or self.keep_bytes >= 256:
            return x
        if self.keep_bytes == 0:
            return jnp.zeros_like(x)
        words = jax.random.bits(keys.next(), (-(-x.size // 4),), jnp.uint32)
        random_bytes = jax.lax.bitcast_convert_type(words, jnp.uint8).reshape(-1)[: x.size].reshape(x.shape)
        keep = random_bytes < jnp.uint8(self.keep_bytes)
        return jnp.where(keep, x * (256.0 / self.keep_bytes), 0.0).astype(x.dtype)
