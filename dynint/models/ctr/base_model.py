"""The Embedding & MLP base model of the DIN and DIEN papers: pooled behaviours plus the target."""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
from flax import nnx

from dynint.data.ctr_samples import CTRBatch
from dynint.models.ctr.config import BaseModelConfig
from dynint.models.ctr.layers import ClickTower, ItemEmbedding, embed_batch, pool_history
from dynint.models.dropout import DropoutKeys
from dynint.models.item_representation import ItemContent


class PoolingEncoder(nnx.Module):
    """`[target, pooled behaviours]`, of `output_size` entries; no auxiliary loss."""

    def __init__(
        self,
        config: BaseModelConfig,
        num_items: int,
        max_length: int,
        feature_sizes: Mapping[str, int],
        *,
        rngs: nnx.Rngs,
        content: ItemContent | None = None,
    ):
        del max_length  # pooling needs no position table
        self.pooling = config.pooling
        self.embedding = ItemEmbedding(
            num_items, feature_sizes, config.embedding_size, rngs=rngs, items=config.items, content=content
        )
        self.output_size = 2 * self.embedding.output_size

    def encode(self, batch: CTRBatch, dropout: DropoutKeys | None = None) -> tuple[jax.Array, jax.Array]:
        target, history, valid = embed_batch(self.embedding, batch, dropout)  # dropout: the item adaptor's only
        features = jnp.concatenate([target, pool_history(history, valid, self.pooling)], axis=-1)
        return features, jnp.zeros((), features.dtype)


class BaseModel(ClickTower, PoolingEncoder):
    """`[target, pooled behaviours]` -> MLP -> logit; no auxiliary loss."""
