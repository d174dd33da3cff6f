"""SASRec with sparse attention for long behaviour histories: each position predicts the next
item, as in SASRec, but attends only to the keys of an `AttentionPattern` (a local window, strided
keys, a few global positions), so a layer costs O(L * window) instead of O(L^2)."""

from __future__ import annotations

from dataclasses import dataclass, field

from flax import nnx

from dynint.models.base import TransformerConfig
from dynint.models.item_representation import ItemContent
from dynint.models.sasrec import SASRec
from dynint.models.sparse_attention import AttentionPattern
from dynint.models.transformer import SequenceEmbedding, TransformerEncoder


@dataclass(frozen=True)
class SparseSASRecConfig(TransformerConfig):
    """SASRec's fields plus the attention pattern (`model.attention.window`, `.stride`,
    `.num_global`, `.fused_on_gpu`); see `AttentionPattern`."""

    name: str = "sparse-sasrec"
    attention: AttentionPattern = field(default_factory=AttentionPattern)


class SparseSASRec(SASRec):
    """SASRec's embedding, scoring and interface; its causal blocks attend under `config.attention`."""

    def __init__(
        self,
        config: SparseSASRecConfig,
        num_items: int,
        max_length: int,
        *,
        rngs: nnx.Rngs,
        content: ItemContent | None = None,
    ):
        self.embed = SequenceEmbedding(num_items, max_length, config, content=content, rngs=rngs)
        self.encoder = TransformerEncoder(config, causal=True, pattern=config.attention, rngs=rngs)
