"""BST (Chen et al., DLP-KDD 2019): a Transformer over the behaviours with the target appended."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

from dynint.data.ctr_samples import CTRBatch
from dynint.errors import ConfigError
from dynint.models.base import EMBEDDING_INIT, TransformerConfig
from dynint.models.ctr.config import BSTConfig
from dynint.models.ctr.layers import ClickTower, ItemEmbedding, embed_batch, pool_history
from dynint.models.dropout import DropoutKeys
from dynint.models.item_representation import ItemContent
from dynint.models.transformer import TransformerEncoder


def item_vector_size(config: BSTConfig, feature_sizes: Mapping[str, int]) -> int:
    """The width of an item vector (the id and each side feature), which the heads must divide."""
    size = config.embedding_size * (1 + len(feature_sizes))
    if size % config.num_heads:
        raise ConfigError(
            f"model.num_heads={config.num_heads} must divide the item vector size {size} "
            f"(model.embedding_size={config.embedding_size} times {1 + len(feature_sizes)} fields)"
        )
    return size


def behaviour_transformer(config: BSTConfig, size: int, norm: Literal["pre", "post"]) -> TransformerConfig:
    """The Transformer settings of a BST-style encoder over item vectors of `size` entries."""
    return TransformerConfig(
        hidden_size=size,
        dropout=config.dropout,
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        inner_size=config.inner_multiple * size,
        norm=norm,
        activation="relu",
        moe=config.moe,
    )


class BSTEncoder(nnx.Module):
    """Behaviours and the target, each plus a learned embedding of its distance from the target
    (the paper embeds time gaps; this data has order only), go through post-LN bidirectional
    Transformer blocks. The paper flattens all outputs, which would tie the model to one padded
    length; here the features are `[target output, pooled behaviour outputs]` instead."""

    def __init__(
        self,
        config: BSTConfig,
        num_items: int,
        max_length: int,
        feature_sizes: Mapping[str, int],
        *,
        rngs: nnx.Rngs,
        content: ItemContent | None = None,
    ):
        size = item_vector_size(config, feature_sizes)
        self.pooling = config.pooling
        self.max_length = max_length
        self.embedding = ItemEmbedding(
            num_items, feature_sizes, config.embedding_size, rngs=rngs, items=config.items, content=content
        )
        self.distances = nnx.Embed(max_length + 1, size, embedding_init=EMBEDDING_INIT, rngs=rngs)
        self.encoder = TransformerEncoder(behaviour_transformer(config, size, "post"), causal=False, rngs=rngs)
        self.output_size = 2 * size

    def encode(self, batch: CTRBatch, dropout: DropoutKeys | None = None) -> tuple[jax.Array, jax.Array]:
        target, history, valid = embed_batch(self.embedding, batch, dropout)
        lengths = jnp.sum(valid, axis=1, keepdims=True)
        distances = jnp.clip(lengths - jnp.arange(history.shape[1])[None, :], 0, self.max_length)
        target = target + self.distances.embedding[0]  # the target is at distance 0 from itself
        sequence = jnp.concatenate([history + self.distances(distances), target[:, None]], axis=1)
        real = jnp.concatenate([valid, jnp.ones_like(valid[:, :1])], axis=1)
        outputs = self.encoder(sequence, real, dropout)
        pooled = pool_history(outputs[:, :-1], valid, self.pooling)
        features = jnp.concatenate([outputs[:, -1], pooled], axis=-1)
        return features, jnp.zeros((), features.dtype)


class BST(ClickTower, BSTEncoder):
    """BST's features -> MLP -> logit."""
