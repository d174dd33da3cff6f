"""Self-attention blocks shared by SASRec (causal) and BERT4Rec (bidirectional)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from dynint.models.base import TransformerConfig

_ACTIVATIONS = {"gelu": jax.nn.gelu, "relu": jax.nn.relu}


def attention_mask(valid: jax.Array, causal: bool) -> jax.Array:
    """`(B, 1, L, L)` booleans, True where query `i` may attend to key `j`: a real key, and `j <= i` if causal."""
    mask = valid[:, None, None, :]
    if causal:
        length = valid.shape[1]
        mask = mask & jnp.tril(jnp.ones((length, length), dtype=bool))[None, None]
    return mask


class MultiHeadSelfAttention(nnx.Module):
    def __init__(self, hidden_size: int, num_heads: int, dropout: float, *, rngs: nnx.Rngs):
        self.num_heads = num_heads
        self.qkv = nnx.Linear(hidden_size, 3 * hidden_size, rngs=rngs)
        self.out = nnx.Linear(hidden_size, hidden_size, rngs=rngs)
        self.dropout = nnx.Dropout(dropout)

    def __call__(self, x: jax.Array, mask: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        batch, length, hidden = x.shape
        head_size = hidden // self.num_heads
        q, k, v = jnp.split(self.qkv(x).reshape(batch, length, 3 * self.num_heads, head_size), 3, axis=2)
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / jnp.sqrt(head_size).astype(x.dtype)
        # A finite fill keeps fully masked rows (padding-only sequences) free of NaN.
        logits = jnp.where(mask, logits, jnp.finfo(logits.dtype).min)
        weights = self.dropout(jax.nn.softmax(logits, axis=-1), deterministic=rngs is None, rngs=rngs)
        return self.out(jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(batch, length, hidden))


class FeedForward(nnx.Module):
    def __init__(self, hidden_size: int, inner_size: int, activation: str, dropout: float, *, rngs: nnx.Rngs):
        self.inner = nnx.Linear(hidden_size, inner_size, rngs=rngs)
        self.outer = nnx.Linear(inner_size, hidden_size, rngs=rngs)
        self.activation = _ACTIVATIONS[activation]
        self.dropout = nnx.Dropout(dropout)

    def __call__(self, x: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        hidden = self.dropout(self.activation(self.inner(x)), deterministic=rngs is None, rngs=rngs)
        return self.outer(hidden)


class TransformerBlock(nnx.Module):
    """Self-attention then a position-wise feed-forward layer, each with dropout, a residual and LayerNorm."""

    def __init__(self, config: TransformerConfig, *, rngs: nnx.Rngs):
        attention_dropout = config.dropout if config.attention_dropout is None else config.attention_dropout
        self.pre_norm = config.norm == "pre"
        self.attention = MultiHeadSelfAttention(config.hidden_size, config.num_heads, attention_dropout, rngs=rngs)
        self.feed_forward = FeedForward(
            config.hidden_size, config.inner_size, config.activation, config.dropout, rngs=rngs
        )
        self.attention_norm = nnx.LayerNorm(config.hidden_size, epsilon=1e-6, rngs=rngs)
        self.feed_forward_norm = nnx.LayerNorm(config.hidden_size, epsilon=1e-6, rngs=rngs)
        self.dropout = nnx.Dropout(config.dropout)

    def __call__(self, x: jax.Array, mask: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        def attend(h):
            return self.attention(h, mask, rngs=rngs)

        def feed(h):
            return self.feed_forward(h, rngs=rngs)

        for sublayer, norm in ((attend, self.attention_norm), (feed, self.feed_forward_norm)):
            if self.pre_norm:
                x = x + self._drop(sublayer(norm(x)), rngs)
            else:
                x = norm(x + self._drop(sublayer(x), rngs))
        return x

    def _drop(self, x: jax.Array, rngs: nnx.Rngs | None) -> jax.Array:
        return self.dropout(x, deterministic=rngs is None, rngs=rngs)


class TransformerEncoder(nnx.Module):
    """Embedding dropout, `num_layers` blocks, and a LayerNorm: on the input for post-LN (as BERT
    does), on the output for pre-LN (whose blocks leave their residual stream unnormalised)."""

    def __init__(self, config: TransformerConfig, *, causal: bool, rngs: nnx.Rngs):
        self.causal = causal
        self.pre_norm = config.norm == "pre"
        self.norm = nnx.LayerNorm(config.hidden_size, epsilon=1e-6, rngs=rngs)
        self.dropout = nnx.Dropout(config.dropout)
        self.blocks = nnx.List([TransformerBlock(config, rngs=rngs) for _ in range(config.num_layers)])

    def __call__(self, x: jax.Array, valid: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        """`x` `(B, L, d)` embedded inputs, `valid` `(B, L)` True at real (non-padding) positions."""
        mask = attention_mask(valid, self.causal)
        if not self.pre_norm:
            x = self.norm(x)
        x = self.dropout(x, deterministic=rngs is None, rngs=rngs)
        for block in self.blocks:
            x = block(x, mask, rngs=rngs)
        return self.norm(x) if self.pre_norm else x
