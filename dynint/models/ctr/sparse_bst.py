"""Sparse-attention BST for long behaviour histories: the behaviours go through the causal sparse
Transformer encoder (O(L * window) per layer), then the target item attends over the encoded
behaviours (BST-style target attention: one query, O(L))."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
from flax import nnx

from dynint.data.ctr_samples import CTRBatch
from dynint.models.base import EMBEDDING_INIT
from dynint.models.ctr.bst import behaviour_transformer, item_vector_size
from dynint.models.ctr.config import BSTConfig
from dynint.models.ctr.layers import ClickTower, ItemEmbedding, embed_batch, pool_history
from dynint.models.dropout import DropoutKeys
from dynint.models.item_representation import ItemContent
from dynint.models.sparse_attention import AttentionPattern
from dynint.models.transformer import MultiHeadSelfAttention, TransformerEncoder, position_indices


@dataclass(frozen=True)
class SparseBSTConfig(BSTConfig):
    """BST's fields plus the history encoder's attention pattern (`model.attention.*`, see
    `AttentionPattern`). The encoder is pre-LN, since its blocks are shared with sparse SASRec."""

    name: str = "sparse-bst"
    attention: AttentionPattern = field(default_factory=AttentionPattern)


class SparseBSTEncoder(nnx.Module):
    """Behaviours plus a learned embedding of their distance from the most recent one go through
    causal sparse Transformer blocks; the target then attends over the encoded behaviours and
    itself. The features are `[target, attended, pooled encoded behaviours]`."""

    def __init__(
        self,
        config: SparseBSTConfig,
        num_items: int,
        max_length: int,
        feature_sizes: Mapping[str, int],
        *,
        rngs: nnx.Rngs,
        content: ItemContent | None = None,
    ):
        size = item_vector_size(config, feature_sizes)
        self.pooling = config.pooling
        self.embedding = ItemEmbedding(
            num_items, feature_sizes, config.embedding_size, rngs=rngs, items=config.items, content=content
        )
        self.distances = nnx.Embed(max_length, size, embedding_init=EMBEDDING_INIT, rngs=rngs)
        transformer = behaviour_transformer(config, size, "pre")
        self.encoder = TransformerEncoder(transformer, causal=True, pattern=config.attention, rngs=rngs)
        self.target_attention = MultiHeadSelfAttention(size, config.num_heads, config.dropout, rngs=rngs)
        self.output_size = 3 * size

    def encode(self, batch: CTRBatch, dropout: DropoutKeys | None = None) -> tuple[jax.Array, jax.Array]:
        """Features `(B, output_size)` and an auxiliary loss of 0."""
        target, history, valid = embed_batch(self.embedding, batch, dropout)
        history = history + self.distances(position_indices(batch.histories, "last"))
        encoded = self.encoder(history, valid, dropout)
        # The target is one more key and the only query: padding-only mask, O(L) scores.
        sequence = jnp.concatenate([encoded, target[:, None]], axis=1)
        keys = jnp.concatenate([valid, jnp.ones_like(valid[:, :1])], axis=1)[:, None, None, :]
        last = jnp.full((target.shape[0],), encoded.shape[1])
        attended = self.target_attention(sequence, keys, dropout, last)[:, 0]
        features = jnp.concatenate([target, attended, pool_history(encoded, valid, self.pooling)], axis=-1)
        return features, jnp.zeros((), features.dtype)


class SparseBST(ClickTower, SparseBSTEncoder):
    """Sparse BST's features -> MLP -> logit."""
