"""DIN (Zhou et al., KDD 2018): behaviours weighted by their relevance to the target item."""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
from flax import nnx

from dynint.data.ctr_samples import CTRBatch
from dynint.models.ctr.config import DINConfig
from dynint.models.ctr.layers import ClickTower, ItemEmbedding, LocalActivationUnit, embed_batch, pool_history
from dynint.models.dropout import DropoutKeys
from dynint.models.item_representation import ItemContent


class DINEncoder(nnx.Module):
    """`[target, pooled behaviours, attention-weighted behaviours]`, of `output_size` entries.

    As the paper stresses, the attention weights are not softmax-normalised, so the weighted sum
    keeps the intensity of the user's interest in the target; padding gets weight 0.
    """

    def __init__(
        self,
        config: DINConfig,
        num_items: int,
        max_length: int,
        feature_sizes: Mapping[str, int],
        *,
        rngs: nnx.Rngs,
        content: ItemContent | None = None,
    ):
        del max_length  # attention needs no position table
        self.pooling = config.pooling
        self.embedding = ItemEmbedding(
            num_items, feature_sizes, config.embedding_size, rngs=rngs, items=config.items, content=content
        )
        size = self.embedding.output_size
        self.attention = LocalActivationUnit(size, config.attention_sizes, config.attention_activation, rngs=rngs)
        self.output_size = 3 * size

    def attention_weights(self, batch: CTRBatch) -> jax.Array:
        """The unnormalised weight of each behaviour `(B, L)`, 0 at padding."""
        return self._weights(*embed_batch(self.embedding, batch))

    def encode(self, batch: CTRBatch, dropout: DropoutKeys | None = None) -> tuple[jax.Array, jax.Array]:
        target, history, valid = embed_batch(self.embedding, batch, dropout)  # dropout: the item adaptor's only
        attended = jnp.einsum("bl,bld->bd", self._weights(target, history, valid), history)
        features = jnp.concatenate([target, pool_history(history, valid, self.pooling), attended], axis=-1)
        return features, jnp.zeros((), features.dtype)

    def _weights(self, target: jax.Array, history: jax.Array, valid: jax.Array) -> jax.Array:
        return jnp.where(valid, self.attention(target, history), 0.0)


class DIN(ClickTower, DINEncoder):
    """DIN's features -> MLP -> logit."""
