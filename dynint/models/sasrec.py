"""SASRec (Kang & McAuley, ICDM 2018): causal self-attention over the behaviour sequence."""

from __future__ import annotations

from dataclasses import dataclass

import jax
from flax import nnx

from dynint.models.base import NextItemObjective, TransformerConfig
from dynint.models.dropout import DropoutKeys
from dynint.models.item_representation import ItemContent
from dynint.models.transformer import SequenceEmbedding, TransformerEncoder


@dataclass(frozen=True)
class SASRecConfig(TransformerConfig):
    name: str = "sasrec"


class SASRec(nnx.Module):
    """Item plus learned position embeddings, causal Transformer blocks, and scores against the
    same item vectors (`config.items`). Sequences are left-aligned, so padding after a sequence
    changes nothing in it."""

    objective = NextItemObjective()

    def __init__(
        self,
        config: SASRecConfig,
        num_items: int,
        max_length: int,
        *,
        rngs: nnx.Rngs,
        content: ItemContent | None = None,
    ):
        self.embed = SequenceEmbedding(num_items, max_length, config, content=content, rngs=rngs)
        self.encoder = TransformerEncoder(config, causal=True, rngs=rngs)

    def __call__(
        self, inputs: jax.Array, *, dropout: DropoutKeys | None = None, positions: jax.Array | None = None
    ) -> jax.Array:
        return self.encoder(self.embed(inputs, dropout), inputs != 0, dropout, positions)

    def output_table(self) -> jax.Array:
        return self.embed.items.table()
