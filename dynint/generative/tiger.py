"""TIGER-style generative retrieval (Rajput et al., NeurIPS 2023), decoder-only: a causal
Transformer reads a history as the semantic-id tokens of its items, oldest first, and is trained
to predict every next token; it recommends by generating the next item's tokens with a beam
search constrained to real items (`dynint.generative.beam`).

The encoder is dynint's Transformer stack; tokens and positions (counted from the first token)
have learned embeddings, and the output logits reuse the token embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from dynint.errors import ConfigError
from dynint.generative.rqvae import RQVAEConfig
from dynint.models.base import TransformerConfig
from dynint.models.dropout import DropoutKeys
from dynint.models.transformer import TransformerEncoder
from dynint.pretrained.defaults import DEFAULT_TEXT_MODEL


@dataclass(frozen=True)
class SemanticIdSource:
    """What the RQ-VAE quantises: `content="text"` embeds each item's document with `encoder`
    (a default checkpoint name or a local folder), `"attributes"` uses its attribute bag (for data
    sets whose items have attribute ids and no text, such as the S3-Rec Amazon files)."""

    content: str = "text"
    encoder: str = DEFAULT_TEXT_MODEL
    rqvae: RQVAEConfig = field(default_factory=RQVAEConfig)

    def __post_init__(self) -> None:
        if self.content not in ("text", "attributes"):
            raise ConfigError(f"model.semantic_ids.content={self.content!r}: expected 'text' or 'attributes'")


@dataclass(frozen=True)
class TIGERConfig(TransformerConfig):
    """The Transformer's fields, the semantic ids (`semantic_ids`), the history kept (`max_items`
    latest items) and the beam width of generation (`beam_size`, at least the largest K of the
    metrics: items outside the beam count as not retrieved)."""

    name: str = "tiger"
    position_origin: str = "first"
    semantic_ids: SemanticIdSource = field(default_factory=SemanticIdSource)
    max_items: int = 20
    beam_size: int = 20

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_items < 1 or self.beam_size < 1:
            raise ConfigError(f"model.max_items={self.max_items}, model.beam_size={self.beam_size}: expected >= 1")
        if self.position_origin != "first":
            raise ConfigError("model.position_origin: TIGER numbers its tokens from the first; expected 'first'")


class TIGER(nnx.Module):
    """`(B, T)` tokens -> `(B, T, d)` hidden states (or `(B, d)` at `positions`); `logits` maps
    hidden states to token logits."""

    def __init__(self, config: TIGERConfig, vocabulary: int, max_tokens: int, *, rngs: nnx.Rngs):
        init = nnx.initializers.normal(stddev=config.embedding_init_std)
        self.tokens = nnx.Embed(vocabulary, config.hidden_size, embedding_init=init, rngs=rngs)
        self.positions = nnx.Embed(max_tokens, config.hidden_size, embedding_init=init, rngs=rngs)
        self.encoder = TransformerEncoder(config, causal=True, rngs=rngs)

    def __call__(
        self, tokens: jax.Array, *, dropout: DropoutKeys | None = None, positions: jax.Array | None = None
    ) -> jax.Array:
        x = self.tokens(tokens) + self.positions(jnp.arange(tokens.shape[1]))[None]
        return self.encoder(x, tokens != 0, dropout, positions)

    def logits(self, hidden: jax.Array) -> jax.Array:
        return hidden @ self.tokens.embedding[...].T


def token_loss_fn(graphdef: nnx.GraphDef):
    """Mean cross-entropy of every next token of the batch (`inputs`, `targets` `(B, T)`; 0 = none)."""

    def loss(params, batch, key: jax.Array) -> jax.Array:
        model = nnx.merge(graphdef, params)
        hidden = model(batch.inputs, dropout=DropoutKeys(key))
        logits = model.logits(hidden).astype(jnp.float32)
        per_token = optax.softmax_cross_entropy_with_integer_labels(logits, batch.targets)
        weight = (batch.targets != 0).astype(jnp.float32)
        return jnp.sum(per_token * weight) / jnp.maximum(weight.sum(), 1.0)

    return loss
