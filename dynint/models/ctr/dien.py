"""DIEN (Zhou et al., AAAI 2019): an interest-extractor GRU trained with an auxiliary loss, and an
interest-evolving GRU steered by attention to the target item."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from dynint.data.ctr_samples import CTRBatch
from dynint.models.ctr.config import DIENConfig
from dynint.models.ctr.layers import (
    MLP,
    ClickTower,
    ItemEmbedding,
    LocalActivationUnit,
    PReLU,
    embed_batch,
    masked_softmax,
    pool_history,
)
from dynint.models.dropout import DropoutKeys
from dynint.models.gru4rec import GRULayer
from dynint.models.item_representation import ItemContent


class AttentionalGRU(GRULayer):
    """The interest-evolving GRU: a `GRULayer` whose steps are weighted by attention scores `a_t`.

    In the paper's notation `h_t = (1 - u_t) h_{t-1} + u_t h~_t` (`GRULayer`'s gate is `1 - u_t`).
    AIGRU scales the input by `a_t`; AGRU replaces `u_t` by `a_t`; AUGRU scales `u_t` by `a_t`.
    The state is carried unchanged through padding, so the final state is the last real step's.
    """

    def __init__(self, input_size: int, state_size: int, gate: str, *, rngs: nnx.Rngs):
        super().__init__(input_size, state_size, rngs=rngs)
        self.gate = gate

    def __call__(self, x: jax.Array, valid: jax.Array, attention: jax.Array) -> jax.Array:
        """`x` `(B, L, d)`, `valid` and `attention` `(B, L)` -> final state `(B, state_size)`."""
        if self.gate == "aigru":
            x = x * attention[..., None]
        projected = jnp.swapaxes(self.input_projection(x), 0, 1)
        kernel, bias = self.state_projection.kernel[...], self.state_projection.bias[...]

        def step(state, inputs):
            projected_t, valid_t, attention_t = inputs
            reset_in, update_in, candidate_in = jnp.split(projected_t, 3, axis=-1)
            reset_state, update_state, candidate_state = jnp.split(state @ kernel + bias, 3, axis=-1)
            reset = jax.nn.sigmoid(reset_in + reset_state)
            update = 1.0 - jax.nn.sigmoid(update_in + update_state)
            candidate = jnp.tanh(candidate_in + reset * candidate_state)
            if self.gate == "agru":
                update = attention_t[:, None]
            elif self.gate == "augru":
                update = attention_t[:, None] * update
            new_state = (1.0 - update) * state + update * candidate
            return jnp.where(valid_t[:, None], new_state, state), None

        initial = jnp.zeros((x.shape[0], self.state_size), x.dtype)
        steps = (projected, jnp.swapaxes(valid, 0, 1), jnp.swapaxes(attention, 0, 1).astype(x.dtype))
        final, _ = jax.lax.scan(step, initial, steps)
        return final


class _Interests(NamedTuple):
    target: jax.Array
    history: jax.Array
    valid: jax.Array
    states: jax.Array
    attention: jax.Array


class DIENEncoder(nnx.Module):
    """`[target, final evolved interest, pooled behaviours]`, of `output_size` entries, and the
    weighted auxiliary loss (`auxiliary_weight` times it; the train step adds it to the task loss)."""

    def __init__(
        self,
        config: DIENConfig,
        num_items: int,
        max_length: int,
        feature_sizes: Mapping[str, int],
        *,
        rngs: nnx.Rngs,
        content: ItemContent | None = None,
    ):
        del max_length  # recurrent: no position table
        self.pooling = config.pooling
        self.auxiliary_weight = config.auxiliary_weight
        self.embedding = ItemEmbedding(
            num_items, feature_sizes, config.embedding_size, rngs=rngs, items=config.items, content=content
        )
        size = self.embedding.output_size
        state_size = config.gru_size or size
        self.extractor = GRULayer(size, state_size, rngs=rngs)
        self.auxiliary = MLP(state_size + size, config.auxiliary_sizes, "sigmoid", 0.0, rngs=rngs)
        # The DIEN code maps the target to the state size (a dense layer and PReLU) before attending.
        self.query = nnx.Linear(size, state_size, rngs=rngs)
        self.query_activation = PReLU(state_size)
        self.attention = LocalActivationUnit(state_size, config.attention_sizes, config.attention_activation, rngs=rngs)
        self.evolution = AttentionalGRU(state_size, state_size, config.gate, rngs=rngs)
        self.output_size = 2 * size + state_size

    def attention_weights(self, batch: CTRBatch) -> jax.Array:
        """Each behaviour's attention `(B, L)`: softmax over the real steps, 0 at padding."""
        return self._interests(batch).attention

    def encode(self, batch: CTRBatch, dropout: DropoutKeys | None = None) -> tuple[jax.Array, jax.Array]:
        interests = self._interests(batch, dropout)  # dropout: the item adaptor's only
        final = self.evolution(interests.states, interests.valid, interests.attention)
        pooled = pool_history(interests.history, interests.valid, self.pooling)
        features = jnp.concatenate([interests.target, final, pooled], axis=-1)
        if self.auxiliary_weight == 0:
            return features, jnp.zeros((), features.dtype)
        unclicked = self.embedding(batch.history_negatives, batch.negative_tokens, dropout)
        auxiliary = self.auxiliary_loss(interests.states, interests.history, unclicked, interests.valid)
        return features, self.auxiliary_weight * auxiliary

    def auxiliary_loss(
        self, states: jax.Array, clicked: jax.Array, unclicked: jax.Array, valid: jax.Array
    ) -> jax.Array:
        """Binary log loss of telling behaviour `t + 1` from a sampled item given state `h_t`,
        averaged over the steps that have a real next behaviour."""
        has_next = valid[:, 1:]
        previous = states[:, :-1]
        positive = self.auxiliary(jnp.concatenate([previous, clicked[:, 1:]], axis=-1))[..., 0]
        negative = self.auxiliary(jnp.concatenate([previous, unclicked[:, 1:]], axis=-1))[..., 0]
        per_step = jax.nn.softplus(-positive) + jax.nn.softplus(negative)
        return jnp.sum(jnp.where(has_next, per_step, 0.0)) / jnp.maximum(jnp.sum(has_next), 1)

    def _interests(self, batch: CTRBatch, dropout: DropoutKeys | None = None) -> _Interests:
        target, history, valid = embed_batch(self.embedding, batch, dropout)
        states = self.extractor(history)  # left-aligned: padding after a sequence never reaches its steps
        query = self.query_activation(self.query(target))
        attention = masked_softmax(self.attention(query, states), valid)
        return _Interests(target, history, valid, states, attention)


class DIEN(ClickTower, DIENEncoder):
    """DIEN's features -> MLP -> logit, plus its weighted auxiliary loss."""
