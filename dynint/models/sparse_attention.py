"""Causal sparse self-attention computed blockwise: no `(L, L)` score matrix is ever built.

A query at position `i` of a left-aligned sequence sees a subset of the real keys `j <= i`,
chosen by an `AttentionPattern`: a local window, strided keys (Child et al. 2019, "Generating
Long Sequences with Sparse Transformers") and a few global positions. Each subset is scored in a
layout of its own (window blocks, residue classes of the stride, the global columns) and the
parts are merged by one softmax over their union, as if the scores were a single row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from dynint.errors import ConfigError
from dynint.models.dropout import Dropout, DropoutKeys


@dataclass(frozen=True)
class AttentionPattern:
    """Which keys `j` a query `i` attends to, always only real items with `j <= i`: the local
    window `i - window < j`; with `stride` > 0 also every `j` with `(i - j) % stride == 0`
    (Child et al.'s strided pattern, here merged into every head); and the first `num_global`
    positions (the oldest items of a left-aligned history), which every later query sees.

    Cost per layer: O(L * window) time and memory for the window, O(L * num_global) for the
    global keys and O(L * L / stride) for the strided keys. `window >= L` is dense causal
    attention. `fused_on_gpu`: on a GPU, a window-only pattern without active attention dropout
    runs through cuDNN's fused flash attention (`jax.nn.dot_product_attention` with its local
    window, in bfloat16, which cuDNN requires); otherwise, and on every other backend, the exact
    blockwise path here runs."""

    window: int = 64
    stride: int = 0
    num_global: int = 0
    fused_on_gpu: bool = True

    def __post_init__(self) -> None:
        if not self.window >= 1:
            raise ConfigError(f"model.attention.window={self.window!r}: expected a positive integer")
        if not self.stride >= 0:
            raise ConfigError(f"model.attention.stride={self.stride!r}: expected 0 (off) or a positive integer")
        if not self.num_global >= 0:
            raise ConfigError(f"model.attention.num_global={self.num_global!r}: expected 0 (off) or a positive integer")

    def allows(self, queries: jax.Array, keys: jax.Array) -> jax.Array:
        """True where query position `queries` may attend to key position `keys` (broadcast),
        padding aside."""
        offset = queries - keys
        allowed = offset < self.window
        if self.stride:
            allowed = allowed | (offset % self.stride == 0)
        if self.num_global:
            allowed = allowed | (keys < self.num_global)
        return allowed & (offset >= 0)

    def mask(self, valid: jax.Array, positions: jax.Array | None = None) -> jax.Array:
        """The dense boolean mask `(B, 1, Q, L)` of this pattern over the real keys `valid`
        `(B, L)`: for every query (`Q = L`), or for one query per row at `positions` `(B,)`
        (`Q = 1`, an O(L) row, which is how sequences are encoded for scoring)."""
        keys = jnp.arange(valid.shape[1])
        queries = keys[None, :, None] if positions is None else positions[:, None, None]
        return (self.allows(queries, keys[None, None, :]) & valid[:, None, :])[:, None]


class _Part(NamedTuple):
    """One block layout of a pattern's keys: `logits` and `allowed` with the keys on the last
    axis; `to_queries` maps a per-query array of this layout (`logits` without its key axis)
    to `(B, H, L)`, `from_queries` maps `(B, H, L)` back (with a key axis of 1), and `context`
    turns weights of this layout into `(B, L, H, D)` attention outputs."""

    logits: jax.Array
    allowed: jax.Array
    to_queries: Callable[[jax.Array], jax.Array]
    from_queries: Callable[[jax.Array], jax.Array]
    context: Callable[[jax.Array], jax.Array]


def sparse_self_attention(
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    valid: jax.Array,
    pattern: AttentionPattern,
    dropout: Dropout,
    keys: DropoutKeys | None,
) -> jax.Array:
    """Attention outputs `(B, L, H, D)` of queries, keys and values `(B, L, H, D)` under
    `pattern`, with `valid` `(B, L)` True at real keys. Queries without any visible key get 0.
    Dropout applies to the normalised attention weights, as in the dense path."""
    if _use_fused(pattern, q, dropout, keys):
        return _fused_local_attention(q, k, v, valid, pattern.window)
    scale = jnp.sqrt(q.shape[-1]).astype(q.dtype)
    parts = [_local_part(q, k, v, valid, pattern, scale)]
    if pattern.stride:
        parts.append(_strided_part(q, k, v, valid, pattern, scale))
    if pattern.num_global:
        parts.append(_global_part(q, k, v, valid, pattern, scale))
    masked = [jnp.where(part.allowed, part.logits, -jnp.inf) for part in parts]
    # One softmax over the union: a shared per-query maximum (stopped: the result does not depend
    # on it), then the parts' exponentials normalised by their summed mass.
    maximum = jnp.stack([part.to_queries(jnp.max(m, axis=-1)) for part, m in zip(parts, masked, strict=True)])
    maximum = jax.lax.stop_gradient(jnp.max(maximum, axis=0))
    maximum = jnp.where(jnp.isfinite(maximum), maximum, 0.0)
    exps = [jnp.exp(m - part.from_queries(maximum)) for part, m in zip(parts, masked, strict=True)]
    total = sum(part.to_queries(jnp.sum(e, axis=-1)) for part, e in zip(parts, exps, strict=True))
    inverse = 1.0 / jnp.where(total > 0, total, 1.0)
    return sum(part.context(dropout(e * part.from_queries(inverse), keys)) for part, e in zip(parts, exps, strict=True))


def _pad_to(x: jax.Array, length: int) -> jax.Array:
    """`x` padded with zeros (False) along axis 1 to `length`."""
    return jnp.pad(x, [(0, 0), (0, length - x.shape[1])] + [(0, 0)] * (x.ndim - 2))


def _pad_last(x: jax.Array, length: int) -> jax.Array:
    """`x` padded with zeros along its last axis to `length`."""
    return jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, length - x.shape[-1])])


def _local_part(q, k, v, valid, pattern: AttentionPattern, scale) -> _Part:
    """The window `0 <= i - j < window`: blocks of `b = min(window, L)` queries each see their own
    block and the one before, which covers the window; scores `(B, H, L/b, b, 2b)`."""
    batch, length, heads, size = q.shape
    block = min(pattern.window, length)
    count = -(-length // block)
    padded = count * block

    def blocks(x):
        return _pad_to(x, padded).reshape(batch, count, block, *x.shape[2:])

    def with_previous(x):
        previous = jnp.pad(x[:, :-1], [(0, 0), (1, 0)] + [(0, 0)] * (x.ndim - 2))
        return jnp.concatenate([previous, x], axis=2)

    key_blocks, value_blocks, valid_blocks = (
        with_previous(blocks(k)),
        with_previous(blocks(v)),
        with_previous(blocks(valid)),
    )
    logits = jnp.einsum("bnqhd,bnkhd->bhnqk", blocks(q), key_blocks) / scale
    starts = jnp.arange(count)[:, None, None] * block
    query_positions = starts + jnp.arange(block)[None, :, None]
    key_positions = starts - block + jnp.arange(2 * block)[None, None, :]
    offset = query_positions - key_positions
    allowed = (offset >= 0) & (offset < pattern.window) & valid_blocks[:, None, :, None, :]
    return _Part(
        logits,
        allowed,
        to_queries=lambda x: x.reshape(batch, heads, padded)[..., :length],
        from_queries=lambda x: _pad_last(x, padded).reshape(batch, heads, count, block, 1),
        context=lambda w: jnp.einsum("bhnqk,bnkhd->bnqhd", w, value_blocks).reshape(batch, padded, heads, size)[
            :, :length
        ],
    )


def _strided_part(q, k, v, valid, pattern: AttentionPattern, scale) -> _Part:
    """Keys at a multiple of `stride` behind the query, beyond the window: position `a * s + r`
    is row `a` of residue class `r`, and each class is a causal sequence of `L / s` positions;
    scores `(B, H, s, L/s, L/s)`."""
    batch, length, heads, size = q.shape
    stride = pattern.stride
    count = -(-length // stride)
    padded = count * stride

    def classes(x):
        return _pad_to(x, padded).reshape(batch, count, stride, *x.shape[2:])

    logits = jnp.einsum("bashd,bcshd->bhsac", classes(q), classes(k)) / scale
    rows = jnp.arange(count)
    offset = (rows[:, None] - rows[None, :]) * stride
    allowed = (offset >= pattern.window) & classes(valid).swapaxes(1, 2)[:, None, :, None, :]
    value_classes = classes(v)
    return _Part(
        logits,
        allowed,
        to_queries=lambda x: x.swapaxes(2, 3).reshape(batch, heads, padded)[..., :length],
        from_queries=lambda x: _pad_last(x, padded).reshape(batch, heads, count, stride).swapaxes(2, 3)[..., None],
        context=lambda w: jnp.einsum("bhsac,bcshd->bashd", w, value_classes).reshape(batch, padded, heads, size)[
            :, :length
        ],
    )


def _global_part(q, k, v, valid, pattern: AttentionPattern, scale) -> _Part:
    """The first `num_global` positions, where neither the window nor the stride already covers
    them; scores `(B, H, L, num_global)`."""
    count = min(pattern.num_global, q.shape[1])
    logits = jnp.einsum("blhd,bghd->bhlg", q, k[:, :count]) / scale
    offset = jnp.arange(q.shape[1])[:, None] - jnp.arange(count)[None, :]
    covered = offset < pattern.window
    if pattern.stride:
        covered = covered | (offset % pattern.stride == 0)
    allowed = (offset >= 0) & ~covered & valid[:, None, None, :count]
    return _Part(
        logits,
        allowed,
        to_queries=lambda x: x,
        from_queries=lambda x: x[..., None],
        context=lambda w: jnp.einsum("bhlg,bghd->blhd", w, v[:, :count]),
    )


def _use_fused(pattern: AttentionPattern, q: jax.Array, dropout: Dropout, keys: DropoutKeys | None) -> bool:
    """Whether the cuDNN fused path applies: a GPU backend, a window-only pattern, no active
    attention dropout (the fused kernel has none), and a head size cuDNN accepts."""
    return (
        pattern.fused_on_gpu
        and jax.default_backend() == "gpu"
        and not pattern.stride
        and not pattern.num_global
        and (keys is None or dropout.keep_bytes >= 256)
        and q.shape[-1] % 8 == 0
        and q.shape[-1] <= 128
    )


def _fused_local_attention(q, k, v, valid, window: int) -> jax.Array:
    """cuDNN flash attention with a causal window of `window` keys (the query and `window - 1`
    before it). Padding is given as sequence lengths, which is exact because histories are
    left-aligned (the real items are a prefix); padding queries get 0 there."""
    lengths = jnp.sum(valid, axis=1).astype(jnp.int32)
    out = jax.nn.dot_product_attention(
        q.astype(jnp.bfloat16),
        k.astype(jnp.bfloat16),
        v.astype(jnp.bfloat16),
        is_causal=True,
        query_seq_lengths=lengths,
        key_value_seq_lengths=lengths,
        local_window_size=(window - 1, 0),
        implementation="cudnn",
    )
    return out.astype(q.dtype)
