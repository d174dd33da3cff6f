"""SASRec (Kang & McAuley, ICDM 2018): causal self-attention over the behaviour sequence."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import nnx

from dynint.models.base import EMBEDDING_INIT, NextItemObjective, TransformerConfig
from dynint.models.dropout import DropoutKeys
from dynint.models.transformer import TransformerEncoder


@dataclass(frozen=True)
class SASRecConfig(TransformerConfig):
    name: str = "sasrec"


class SASRec(nnx.Module):
    """Item plus learned position embeddings, causal Transformer blocks, and scores against the
    same item embeddings. Positions count from the oldest item of the (left-aligned) window, so
    padding after a sequence changes nothing before it."""

    objective = NextItemObjective()

    def __init__(self, config: SASRecConfig, num_items: int, max_length: int, *, rngs: nnx.Rngs):
        self.items = nnx.Embed(num_items + 1, config.hidden_size, embedding_init=EMBEDDING_INIT, rngs=rngs)
        self.positions = nnx.Embed(max_length, config.hidden_size, embedding_init=EMBEDDING_INIT, rngs=rngs)
        self.encoder = TransformerEncoder(config, causal=True, rngs=rngs)

    def __call__(
        self, inputs: jax.Array, *, dropout: DropoutKeys | None = None, positions: jax.Array | None = None
    ) -> jax.Array:
        x = self.items(inputs) + self.positions(jnp.arange(inputs.shape[1]))[None]
        return self.encoder(x, inputs != 0, dropout, positions)

    def output_table(self) -> jax.Array:
        return self.items.embedding[...]
