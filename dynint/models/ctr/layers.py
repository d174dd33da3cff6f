"""Building blocks of the CTR models: item embeddings with pooled side features, Dice and PReLU,
the MLP tower, DIN's local activation unit, and the click tower every CTR model puts on its
behaviour encoder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from dynint.data.ctr_samples import CTRBatch
from dynint.models.base import EMBEDDING_INIT
from dynint.models.dropout import Dropout, DropoutKeys
from dynint.models.item_representation import ItemContent, ItemRepresentation, ItemRepresentationConfig


class ItemEmbedding(nnx.Module):
    """An item as the concatenation of its vector (`ItemRepresentation` under `items`, None: its
    id embedding) and, per side feature, the mean embedding of its non-padding tokens
    (zeros if it has none). `feature_sizes[name]` is the feature's vocabulary size including the
    padding token 0."""

    def __init__(
        self,
        num_items: int,
        feature_sizes: Mapping[str, int],
        size: int,
        *,
        rngs: nnx.Rngs,
        items: ItemRepresentationConfig | None = None,
        content: ItemContent | None = None,
    ):
        self.feature_names = tuple(sorted(feature_sizes))
        self.items = ItemRepresentation(items or ItemRepresentationConfig(), num_items, size, content, rngs=rngs)
        self.features = nnx.List(
            [
                nnx.Embed(feature_sizes[name], size, embedding_init=EMBEDDING_INIT, rngs=rngs)
                for name in self.feature_names
            ]
        )
        self.output_size = size * (1 + len(self.feature_names))

    def __call__(
        self, items: jax.Array, tokens: Mapping[str, jax.Array], dropout: DropoutKeys | None = None
    ) -> jax.Array:
        """`items` `(...)` and `tokens[name]` `(..., F)` -> `(..., output_size)`."""
        parts = [self.items(items, dropout)]
        for name, table in zip(self.feature_names, self.features, strict=True):
            valid = (tokens[name] != 0)[..., None]
            total = jnp.sum(jnp.where(valid, table(tokens[name]), 0.0), axis=-2)
            parts.append(total / jnp.maximum(jnp.sum(valid, axis=-2), 1))
        return jnp.concatenate(parts, axis=-1)


class Dice(nnx.Module):
    """Dice (Zhou et al., KDD 2018): `p * s + (1 - p) * alpha * s`, `p = sigmoid(normalised s)`.

    The released DIN/DIEN code normalises with a batch-norm layer left in inference mode whose
    moving statistics are never updated, i.e. with mean 0 and variance 1; this does the same,
    which keeps every output independent of the other rows of its batch.
    """

    def __init__(self, size: int, epsilon: float = 1e-9):
        self.alpha = nnx.Param(jnp.zeros((size,)))
        self.scale = 1.0 / (1.0 + epsilon) ** 0.5

    def __call__(self, x: jax.Array) -> jax.Array:
        p = jax.nn.sigmoid(x * self.scale)
        return p * x + (1.0 - p) * self.alpha[...] * x


class PReLU(nnx.Module):
    """`max(0, s) + alpha * min(0, s)` with a learned per-unit `alpha` (0.1 at first, as in the DIEN code)."""

    def __init__(self, size: int, initial_alpha: float = 0.1):
        # An explicit dtype: `jnp.full` of a Python float is weakly typed, and the optimizer's first
        # updates make it (then its moments) strong, which compiled the train step three times.
        self.alpha = nnx.Param(jnp.full((size,), initial_alpha, jnp.float32))

    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.where(x > 0, x, self.alpha[...] * x)


class Sigmoid(nnx.Module):
    def __init__(self, size: int):
        del size  # no parameters

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.sigmoid(x)


ACTIVATIONS: dict[str, type[nnx.Module]] = {"dice": Dice, "prelu": PReLU, "sigmoid": Sigmoid}


class MLP(nnx.Module):
    """Hidden layers (linear, activation, dropout) and a linear output layer; with
    `output_size=None`, no output layer: the last hidden layer is the output (`output_size`
    is then its width)."""

    def __init__(
        self,
        input_size: int,
        hidden_sizes: Sequence[int],
        activation: str,
        dropout: float,
        output_size: int | None = 1,
        *,
        rngs: nnx.Rngs,
    ):
        sizes = [input_size, *hidden_sizes]
        self.hidden = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:], strict=True)])
        self.activations = nnx.List([ACTIVATIONS[activation](size) for size in hidden_sizes])
        self.output = None if output_size is None else nnx.Linear(sizes[-1], output_size, rngs=rngs)
        self.output_size = sizes[-1] if output_size is None else output_size
        self.dropout = Dropout(dropout)

    def __call__(self, x: jax.Array, dropout: DropoutKeys | None = None) -> jax.Array:
        for layer, activation in zip(self.hidden, self.activations, strict=True):
            x = self.dropout(activation(layer(x)), dropout)
        return x if self.output is None else self.output(x)


class LocalActivationUnit(nnx.Module):
    """DIN's attention: an MLP over `[q, k, q - k, q * k]` scores each behaviour against the query.
    The scores are returned raw; DIN uses them unnormalised, DIEN softmax-normalises them."""

    def __init__(self, size: int, hidden_sizes: Sequence[int], activation: str, *, rngs: nnx.Rngs):
        self.mlp = MLP(4 * size, hidden_sizes, activation, 0.0, rngs=rngs)

    def __call__(self, query: jax.Array, keys: jax.Array) -> jax.Array:
        """`query` `(B, d)`, `keys` `(B, L, d)` -> scores `(B, L)`."""
        query = jnp.broadcast_to(query[:, None, :], keys.shape)
        return self.mlp(jnp.concatenate([query, keys, query - keys, query * keys], axis=-1))[..., 0]


class ClickTower:
    """The click head of a CTR model, mixed into its behaviour encoder (`class M(ClickTower,
    Encoder)`): the encoder's features `(B, output_size)` -> MLP -> one logit. Each model is its
    encoder plus this head (the multitask models put several heads on the same encoders). The
    MLP is built after the encoder, so the encoder's initial parameters are those it has alone."""

    def __init__(
        self,
        config: Any,
        num_items: int,
        max_length: int,
        feature_sizes: Mapping[str, int],
        *,
        rngs: nnx.Rngs,
        content: ItemContent | None = None,
    ):
        super().__init__(config, num_items, max_length, feature_sizes, rngs=rngs, content=content)  # the encoder's
        self.mlp = MLP(self.output_size, config.mlp_sizes, config.activation, config.dropout, rngs=rngs)

    def __call__(self, batch: CTRBatch, *, dropout: DropoutKeys | None = None) -> tuple[jax.Array, jax.Array]:
        features, auxiliary = self.encode(batch, dropout)
        return self.mlp(features, dropout)[:, 0], auxiliary


def pool_history(history: jax.Array, valid: jax.Array, mode: str) -> jax.Array:
    """Sum or mean of `history` `(B, L, d)` over the positions where `valid` `(B, L)` is True."""
    total = jnp.sum(jnp.where(valid[..., None], history, 0.0), axis=1)
    if mode == "sum":
        return total
    return total / jnp.maximum(jnp.sum(valid, axis=1, keepdims=True), 1)


def masked_softmax(scores: jax.Array, valid: jax.Array) -> jax.Array:
    """Softmax of `scores` `(B, L)` over the valid positions only; 0 elsewhere (and for rows
    without any valid position)."""
    scores = jnp.where(valid, scores, jnp.finfo(scores.dtype).min)
    return jnp.where(valid, jax.nn.softmax(scores, axis=-1), 0.0)


def embed_batch(
    embedding: ItemEmbedding, batch: CTRBatch, dropout: DropoutKeys | None = None
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The target `(B, d)`, the behaviours `(B, L, d)` and where they are real `(B, L)`."""
    target = embedding(batch.targets, batch.target_tokens, dropout)
    history = embedding(batch.histories, batch.history_tokens, dropout)
    return target, history, batch.histories != 0
