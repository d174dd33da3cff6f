"""HSTU (Zhai et al., "Actions Speak Louder than Words", ICML 2024): the Hierarchical Sequential
Transduction Unit, a causal sequence encoder whose attention is pointwise.

Each layer, on the residual stream `x` `(B, L, d)`:

    U, V, Q, K = split(SiLU(W1 LayerNorm(x)))              (per head: U, V of d / h, Q, K of a)
    A = SiLU(Q K^T / sqrt(a) + rab(i - j)) / n  on causal pairs of real items, 0 elsewhere
    x = x + W2 Dropout(LayerNorm(A V) * U)

The attention weights are not a softmax: each is a SiLU of its logit, and their sum is not fixed,
which lets the layer express how *much* of the history is relevant, not only which part. `n` is
the model's `max_length` (the paper's sequence length), a constant, so a history's encoding does
not depend on the length of the padded batch it shares. `rab` is a learned relative-position bias
per distance `i - j` (shared by the heads, one per layer). With `time_buckets > 0` it also holds
the paper's time bias: a learned value per bucket of the gap `t_i - t_j` between the query's event
and the key's (in seconds, buckets growing by `TIME_BUCKET_GROWTH`, the last open-ended). The
query's time is its own event's, in training and at scoring alike: the paper's reference code
uses the next event's time in training, which at scoring would be the time of the event being
predicted. Such a model takes `TimedItems` (ids and times) and needs data with timestamps.

Items enter as in SASRec (`SequenceEmbedding`: the item representation of `config.items`, ids,
text or attributes, optionally scaled by sqrt(d), plus learned absolute positions), and every
position predicts the next item against the same item vectors, under any of dynint's losses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

from dynint.errors import ConfigError
from dynint.models.base import NextItemObjective, SequentialModelConfig, TimedItems
from dynint.models.dropout import Dropout, DropoutKeys
from dynint.models.item_representation import ItemContent
from dynint.models.transformer import SequenceEmbedding, attention_mask, take_positions

TIME_BUCKET_GROWTH = 1.5
"""Time-gap bucket `b` holds gaps in `[1.5^b - 1, 1.5^(b+1) - 1)` seconds: 0 s, then about a
second, ..., a day near bucket 28, a year near 43."""


def time_gap_buckets(gaps: jax.Array, num_buckets: int) -> jax.Array:
    """The bucket of each gap in seconds (negative gaps count as 0), the last one open-ended."""
    seconds = jnp.maximum(gaps, 0).astype(jnp.float32)
    bucket = jnp.floor(jnp.log1p(seconds) / jnp.log(TIME_BUCKET_GROWTH)).astype(jnp.int32)
    return jnp.minimum(bucket, num_buckets - 1)


@dataclass(frozen=True)
class HSTUConfig(SequentialModelConfig):
    """`num_layers` HSTU layers of `num_heads` heads; `attention_size` is each head's query/key
    width (None: `hidden_size / num_heads`); `attention_dropout` (None: `dropout`) drops attention
    weights. Embedding fields are SASRec's (see `TransformerConfig`). `time_buckets` (0: none) is the
    number of time-gap buckets of the time bias (48 reach about 9 years)."""

    name: str = "hstu"
    num_layers: int = 2
    num_heads: int = 2
    attention_size: int | None = None
    attention_dropout: float | None = None
    position_origin: Literal["last", "first"] = "last"
    embedding_init_std: float = 0.02
    scale_item_embeddings: bool = True
    time_buckets: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.time_buckets < 0:
            raise ConfigError(f"model.time_buckets={self.time_buckets!r}: expected 0 (no time bias) or a count")
        if self.num_layers < 1 or self.num_heads < 1:
            raise ConfigError("model.num_layers and model.num_heads must be positive integers")
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"model.hidden_size={self.hidden_size} must be divisible by model.num_heads={self.num_heads}"
            )
        if self.attention_size is not None and self.attention_size < 1:
            raise ConfigError(f"model.attention_size={self.attention_size!r}: expected a positive integer or null")
        if self.position_origin not in ("last", "first"):
            raise ConfigError(f"model.position_origin={self.position_origin!r}: expected 'last' or 'first'")
        if not self.embedding_init_std > 0:
            raise ConfigError(f"model.embedding_init_std={self.embedding_init_std!r}: expected a positive number")


class HSTULayer(nnx.Module):
    """One HSTU layer (see the module's docstring)."""

    def __init__(self, config: HSTUConfig, max_length: int, *, rngs: nnx.Rngs):
        self.num_heads = config.num_heads
        self.value_size = config.hidden_size // config.num_heads
        self.attention_size = config.attention_size or self.value_size
        self.max_length = max_length
        width = config.num_heads * (2 * self.value_size + 2 * self.attention_size)
        self.input_norm = nnx.LayerNorm(config.hidden_size, epsilon=1e-6, rngs=rngs)
        self.uvqk = nnx.Linear(config.hidden_size, width, rngs=rngs)
        self.relative_bias = nnx.Param(jnp.zeros((max_length,)))
        self.time_buckets = config.time_buckets
        if config.time_buckets:
            self.time_bias = nnx.Param(jnp.zeros((config.time_buckets,)))
        self.output_norm = nnx.LayerNorm(config.hidden_size, epsilon=1e-6, use_scale=False, use_bias=False, rngs=rngs)
        self.output = nnx.Linear(config.hidden_size, config.hidden_size, rngs=rngs)
        attention_dropout = config.dropout if config.attention_dropout is None else config.attention_dropout
        self.attention_dropout = Dropout(attention_dropout)
        self.dropout = Dropout(config.dropout)

    def __call__(
        self,
        x: jax.Array,
        mask: jax.Array,
        dropout: DropoutKeys | None,
        positions: jax.Array | None = None,
        times: jax.Array | None = None,
    ) -> jax.Array:
        """`x` `(B, L, d)`, `mask` the causal `(B, 1, L, L)` mask of real keys, `times` `(B, L)` the
        events' times (with `time_buckets`); with `positions` `(B,)` only those queries are
        computed and the result is `(B, 1, d)`."""
        batch, length, hidden = x.shape
        heads, value, attention = self.num_heads, self.value_size, self.attention_size
        projected = jax.nn.silu(self.uvqk(self.input_norm(x)))
        u, v, q, k = jnp.split(projected, [heads * value, 2 * heads * value, 2 * heads * value + heads * attention], -1)
        v = v.reshape(batch, length, heads, value)
        q = q.reshape(batch, length, heads, attention)
        k = k.reshape(batch, length, heads, attention)
        queries = jnp.arange(length)[None, :]
        query_times = times
        residual = x
        if positions is not None:
            q, u, residual = take_positions(q, positions), take_positions(u, positions), take_positions(x, positions)
            queries = positions[:, None]
            mask = jnp.take_along_axis(mask, positions[:, None, None, None], axis=2)
            if times is not None:
                query_times = jnp.take_along_axis(times, positions[:, None], axis=1)
        distance = jnp.clip(queries[..., :, None] - jnp.arange(length)[None, None, :], 0, self.max_length - 1)
        logits = jnp.einsum("bqha,bkha->bhqk", q, k) / jnp.sqrt(attention).astype(q.dtype)
        bias = self.relative_bias[...][distance]
        if self.time_buckets:
            gaps = query_times[:, :, None] - times[:, None, :]
            bias = bias + self.time_bias[...][time_gap_buckets(gaps, self.time_buckets)]
        logits = logits + bias.astype(logits.dtype)[:, None]
        weights = jnp.where(mask, jax.nn.silu(logits), 0.0) / self.max_length
        weights = self.attention_dropout(weights, dropout)
        attended = jnp.einsum("bhqk,bkhv->bqhv", weights, v).reshape(batch, q.shape[1], hidden)
        gated = self.output_norm(attended) * u
        return residual + self.output(self.dropout(gated, dropout))


class HSTU(nnx.Module):
    """Item plus position embeddings, embedding dropout, `num_layers` HSTU layers and a final
    LayerNorm; scores against the item vectors, as SASRec does. Sequences are left-aligned."""

    objective = NextItemObjective()

    def __init__(
        self,
        config: HSTUConfig,
        num_items: int,
        max_length: int,
        *,
        rngs: nnx.Rngs,
        content: ItemContent | None = None,
    ):
        self.embed = SequenceEmbedding(num_items, max_length, config, content=content, rngs=rngs)
        self.dropout = Dropout(config.dropout)
        self.layers = nnx.List([HSTULayer(config, max_length, rngs=rngs) for _ in range(config.num_layers)])
        self.norm = nnx.LayerNorm(config.hidden_size, epsilon=1e-6, rngs=rngs)
        self.uses_event_times = config.time_buckets > 0

    def __call__(
        self,
        inputs: jax.Array | TimedItems,
        *,
        dropout: DropoutKeys | None = None,
        positions: jax.Array | None = None,
    ) -> jax.Array:
        items, times = (inputs.items, inputs.times) if isinstance(inputs, TimedItems) else (inputs, None)
        if self.uses_event_times and times is None:
            raise ValueError("HSTU with model.time_buckets > 0 reads event times: pass TimedItems, not item ids alone")
        mask = attention_mask(items != 0, causal=True)
        x = self.dropout(self.embed(items, dropout), dropout)
        for i, layer in enumerate(self.layers):
            x = layer(x, mask, dropout, positions if i == len(self.layers) - 1 else None, times)
        x = self.norm(x)
        return x if positions is None else x[:, 0]

    def output_table(self) -> jax.Array:
        return self.embed.items.table()
