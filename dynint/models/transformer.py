"""Self-attention blocks shared by SASRec (causal) and BERT4Rec (bidirectional)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from dynint.models.base import TransformerConfig
from dynint.models.dropout import Dropout, DropoutKeys
from dynint.models.item_representation import ItemContent, ItemRepresentation
from dynint.models.mixture_of_experts import MixtureOfExpertsFeedForward
from dynint.models.sparse_attention import AttentionPattern, sparse_self_attention

_ACTIVATIONS = {"gelu": jax.nn.gelu, "relu": jax.nn.relu}


def attention_mask(valid: jax.Array, causal: bool) -> jax.Array:
    """Booleans, True where query `i` may attend to key `j`: a real key, and `j <= i` if causal.
    `(B, 1, L, L)` if causal, else `(B, 1, 1, L)` (the same for every query)."""
    mask = valid[:, None, None, :]
    if causal:
        length = valid.shape[1]
        mask = mask & jnp.tril(jnp.ones((length, length), dtype=bool))[None, None]
    return mask


def take_positions(x: jax.Array, positions: jax.Array) -> jax.Array:
    """`x[b, positions[b]]` for each row `b`, keeping a length-1 sequence axis: `(B, L, ...)` -> `(B, 1, ...)`."""
    index = positions.reshape(-1, *([1] * (x.ndim - 1)))
    return jnp.take_along_axis(x, index, axis=1)


def position_indices(inputs: jax.Array, origin: str) -> jax.Array:
    """`(B, L)` position of each item of left-aligned `inputs`: counted from the oldest item
    (`origin="first"`) or back from the most recent one (`"last"`). Padding gets 0 (it is masked)."""
    steps = jnp.arange(inputs.shape[1])[None, :]
    if origin == "first":
        return jnp.broadcast_to(steps, inputs.shape)
    lengths = jnp.sum(inputs != 0, axis=1, keepdims=True)
    return jnp.maximum(lengths - 1 - steps, 0)


class SequenceEmbedding(nnx.Module):
    """Item vectors (`ItemRepresentation` under `config.items`; `extra_tokens` learned rows follow
    the items), optionally scaled by sqrt(d), plus learned position embeddings."""

    def __init__(
        self,
        num_items: int,
        max_length: int,
        config: TransformerConfig,
        *,
        content: ItemContent | None = None,
        extra_tokens: int = 0,
        rngs: nnx.Rngs,
    ):
        self.origin = config.position_origin
        self.item_scale = config.hidden_size**0.5 if config.scale_item_embeddings else 1.0
        self.items = ItemRepresentation(
            config.items,
            num_items,
            config.hidden_size,
            content,
            init_std=config.embedding_init_std,
            extra_tokens=extra_tokens,
            rngs=rngs,
        )
        init = nnx.initializers.normal(stddev=config.embedding_init_std)
        self.positions = nnx.Embed(max_length, config.hidden_size, embedding_init=init, rngs=rngs)

    def __call__(self, inputs: jax.Array, dropout: DropoutKeys | None = None) -> jax.Array:
        items = self.items(inputs, dropout)
        if self.item_scale != 1.0:
            items = items * self.item_scale
        return items + self.positions(position_indices(inputs, self.origin))


class MultiHeadSelfAttention(nnx.Module):
    """Dense attention under a boolean mask, or, with a `pattern`, causal sparse attention
    computed blockwise (`models/sparse_attention.py`) that never builds an `(L, L)` array."""

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        dropout: float,
        *,
        pattern: AttentionPattern | None = None,
        rngs: nnx.Rngs,
    ):
        self.num_heads = num_heads
        self.pattern = pattern
        self.qkv = nnx.Linear(hidden_size, 3 * hidden_size, rngs=rngs)
        self.out = nnx.Linear(hidden_size, hidden_size, rngs=rngs)
        self.dropout = Dropout(dropout)
        self.keeps_weights = False
        """When True (set by `dynint.serving.attention` on a model it explains, never in training),
        each dense call sows its `(B, heads, queries, keys)` softmax weights as `nnx.Intermediate`
        `weights`; sparse blockwise calls have no such array and sow nothing."""

    def __call__(
        self, x: jax.Array, mask: jax.Array, dropout: DropoutKeys | None, positions: jax.Array | None = None
    ) -> jax.Array:
        """`x` `(B, L, d)`, `mask` from `attention_mask`, or with a `pattern` the `(B, L)` real
        positions. With `positions` `(B,)`, only those queries are computed and the result is
        `(B, 1, d)`."""
        batch, length, hidden = x.shape
        head_size = hidden // self.num_heads
        q, k, v = jnp.split(self.qkv(x).reshape(batch, length, 3 * self.num_heads, head_size), 3, axis=2)
        if positions is not None:
            q = take_positions(q, positions)
        if self.pattern is None:
            if positions is not None and mask.shape[2] > 1:  # a causal mask differs per query
                mask = jnp.take_along_axis(mask, positions[:, None, None, None], axis=2)
            context = self._dense(q, k, v, mask, dropout)
        elif positions is not None:  # one query per row: its O(L) mask row is small
            context = self._dense(q, k, v, self.pattern.mask(mask, positions), dropout)
        else:
            context = sparse_self_attention(q, k, v, mask, self.pattern, self.dropout, dropout)
        return self.out(context.reshape(batch, q.shape[1], hidden))

    def _dense(
        self, q: jax.Array, k: jax.Array, v: jax.Array, mask: jax.Array, dropout: DropoutKeys | None
    ) -> jax.Array:
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / jnp.sqrt(q.shape[-1]).astype(q.dtype)
        # A finite fill keeps fully masked rows (padding-only sequences) free of NaN.
        logits = jnp.where(mask, logits, jnp.finfo(logits.dtype).min)
        weights = jax.nn.softmax(logits, axis=-1)
        if self.keeps_weights:
            self.sow(nnx.Intermediate, "weights", weights)
        return jnp.einsum("bhqk,bkhd->bqhd", self.dropout(weights, dropout), v)


class FeedForward(nnx.Module):
    """The position-wise hidden -> inner -> hidden layer of a Transformer block."""

    def __init__(self, hidden_size: int, inner_size: int, activation: str, dropout: float, *, rngs: nnx.Rngs):
        self.inner = nnx.Linear(hidden_size, inner_size, rngs=rngs)
        self.outer = nnx.Linear(inner_size, hidden_size, rngs=rngs)
        self.activation = _ACTIVATIONS[activation]
        self.dropout = Dropout(dropout)

    def __call__(self, x: jax.Array, valid: jax.Array, dropout: DropoutKeys | None) -> jax.Array:
        """`x` `(..., d)`; `valid` is unused (every position is computed; padding is masked later)."""
        return self.outer(self.dropout(self.activation(self.inner(x)), dropout))


class TransformerBlock(nnx.Module):
    """Self-attention then a position-wise feed-forward layer, each with dropout, a residual and
    LayerNorm. A `pattern` makes the attention sparse (and causal); `config.moe` makes the
    feed-forward layer a mixture of experts."""

    def __init__(self, config: TransformerConfig, *, pattern: AttentionPattern | None = None, rngs: nnx.Rngs):
        attention_dropout = config.dropout if config.attention_dropout is None else config.attention_dropout
        self.pre_norm = config.norm == "pre"
        self.attention = MultiHeadSelfAttention(
            config.hidden_size, config.num_heads, attention_dropout, pattern=pattern, rngs=rngs
        )
        if config.moe.num_experts:
            self.feed_forward = MixtureOfExpertsFeedForward(
                config.hidden_size,
                config.inner_size,
                _ACTIVATIONS[config.activation],
                config.dropout,
                config.moe,
                rngs=rngs,
            )
        else:
            self.feed_forward = FeedForward(
                config.hidden_size, config.inner_size, config.activation, config.dropout, rngs=rngs
            )
        self.attention_norm = nnx.LayerNorm(config.hidden_size, epsilon=1e-6, rngs=rngs)
        self.feed_forward_norm = nnx.LayerNorm(config.hidden_size, epsilon=1e-6, rngs=rngs)
        self.dropout = Dropout(config.dropout)
        self.attention_output_dropout = Dropout(config.dropout if config.attention_output_dropout else 0.0)

    def __call__(
        self,
        x: jax.Array,
        mask: jax.Array,
        valid: jax.Array,
        dropout: DropoutKeys | None,
        positions: jax.Array | None = None,
    ) -> jax.Array:
        """`(B, L, d)` -> `(B, L, d)`, or `(B, 1, d)` at `positions` only (keys still cover every
        position). `valid` `(B, L)` marks the real positions."""
        residual = x if positions is None else take_positions(x, positions)
        real = valid if positions is None else take_positions(valid, positions)
        if self.pre_norm:
            attended = self.attention(self.attention_norm(x), mask, dropout, positions)
            x = residual + self.attention_output_dropout(attended, dropout)
            return x + self.dropout(self.feed_forward(self.feed_forward_norm(x), real, dropout), dropout)
        attended = self.attention_output_dropout(self.attention(x, mask, dropout, positions), dropout)
        x = self.attention_norm(residual + attended)
        return self.feed_forward_norm(x + self.dropout(self.feed_forward(x, real, dropout), dropout))


class TransformerEncoder(nnx.Module):
    """Embedding dropout, `num_layers` blocks, and a LayerNorm: on the input for post-LN (as BERT
    does), on the output for pre-LN (whose blocks leave their residual stream unnormalised).
    A `pattern` (causal only) makes every block's attention sparse."""

    def __init__(
        self,
        config: TransformerConfig,
        *,
        causal: bool,
        pattern: AttentionPattern | None = None,
        rngs: nnx.Rngs,
    ):
        if pattern is not None and not causal:
            raise ValueError("a sparse attention pattern is causal; it cannot serve a bidirectional encoder")
        self.causal = causal
        self.pattern = pattern
        self.pre_norm = config.norm == "pre"
        self.norm = nnx.LayerNorm(config.hidden_size, epsilon=1e-6, rngs=rngs)
        self.dropout = Dropout(config.dropout)
        self.blocks = nnx.List([TransformerBlock(config, pattern=pattern, rngs=rngs) for _ in range(config.num_layers)])

    def __call__(
        self, x: jax.Array, valid: jax.Array, dropout: DropoutKeys | None, positions: jax.Array | None = None
    ) -> jax.Array:
        """`x` `(B, L, d)` embedded inputs, `valid` `(B, L)` True at real (non-padding) positions.
        Returns `(B, L, d)`, or `(B, d)` at `positions` `(B,)` only (the last block then computes
        just those queries, which is how sequences are encoded for scoring)."""
        # A sparse pattern masks blockwise from the real positions; only dense attention takes a full mask.
        mask = attention_mask(valid, self.causal) if self.pattern is None else valid
        if not self.pre_norm:
            x = self.norm(x)
        x = self.dropout(x, dropout)
        for i, block in enumerate(self.blocks):
            x = block(x, mask, valid, dropout, positions if i == len(self.blocks) - 1 else None)
        x = self.norm(x) if self.pre_norm else x
        return x if positions is None else x[:, 0]
