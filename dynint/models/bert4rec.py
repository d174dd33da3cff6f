"""BERT4Rec (Sun et al., CIKM 2019): a bidirectional Transformer trained to fill in masked items."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import jax
from flax import nnx

from dynint.errors import ConfigError
from dynint.models.base import ClozeObjective, TransformerConfig
from dynint.models.dropout import DropoutKeys
from dynint.models.item_representation import ItemContent
from dynint.models.transformer import SequenceEmbedding, TransformerEncoder


@dataclass(frozen=True)
class BERT4RecConfig(TransformerConfig):
    """`mask_probability` is the cloze masking rate (the paper's rho)."""

    name: str = "bert4rec"
    norm: Literal["pre", "post"] = "post"
    mask_probability: float = 0.2

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.mask_probability <= 1.0:
            raise ConfigError(f"model.mask_probability={self.mask_probability!r}: expected a rate in (0, 1]")


class BERT4Rec(nnx.Module):
    """Item vectors (`config.items`; plus a learned mask token, id `num_items + 1`) and position
    embeddings, SASRec's blocks without the causal mask, and a dense + GELU + LayerNorm head
    before the shared item table."""

    def __init__(
        self,
        config: BERT4RecConfig,
        num_items: int,
        max_length: int,
        *,
        rngs: nnx.Rngs,
        content: ItemContent | None = None,
    ):
        self.objective = ClozeObjective(config.mask_probability, mask_token=num_items + 1)
        self.embed = SequenceEmbedding(num_items, max_length, config, content=content, extra_tokens=1, rngs=rngs)
        self.encoder = TransformerEncoder(config, causal=False, rngs=rngs)
        self.head = nnx.Linear(config.hidden_size, config.hidden_size, rngs=rngs)
        self.head_norm = nnx.LayerNorm(config.hidden_size, epsilon=1e-6, rngs=rngs)

    def __call__(
        self, inputs: jax.Array, *, dropout: DropoutKeys | None = None, positions: jax.Array | None = None
    ) -> jax.Array:
        hidden = self.encoder(self.embed(inputs, dropout), inputs != 0, dropout, positions)
        return self.head_norm(jax.nn.gelu(self.head(hidden)))

    def output_table(self) -> jax.Array:
        return self.embed.items.table()
