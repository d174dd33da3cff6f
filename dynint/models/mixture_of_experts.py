"""A sparse mixture-of-experts feed-forward layer: each token goes to its top-k experts.

A router scores the experts per token; each token is sent to its `top_k` best experts, whose
outputs are summed weighted by their router probabilities (as Switch Transformer and GShard do;
with `top_k == num_experts` this is the dense softmax mixture). Training dispatches with a fixed
capacity per expert, so the work is O(tokens * top_k), and adds the Switch Transformer's
load-balancing loss (Fedus et al., JMLR 2022), sown as an `AuxiliaryLoss`. At inference no token
is dropped, so a sequence's scores never depend on which other sequences share its batch.
Padding tokens are routed nowhere: they take no capacity and count in no statistic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from dynint.errors import ConfigError
from dynint.models.auxiliary import AuxiliaryLoss
from dynint.models.dropout import Dropout, DropoutKeys


@dataclass(frozen=True)
class MixtureOfExpertsConfig:
    """`model.moe`: `num_experts` 0 keeps the dense feed-forward layer. Each expert is a
    feed-forward layer of the model's `inner_size`. `capacity_factor` sizes each expert's
    training buffer at `capacity_factor * top_k * tokens / num_experts` slots (assignments past
    it are dropped, their token keeping only its residual); `balance_weight` scales the
    load-balancing loss added to the training loss."""

    num_experts: int = 0
    top_k: int = 1
    capacity_factor: float = 1.25
    balance_weight: float = 0.01

    def __post_init__(self) -> None:
        if not self.num_experts >= 0:
            raise ConfigError(f"model.moe.num_experts={self.num_experts!r}: expected 0 (dense) or a positive integer")
        if self.num_experts and not 1 <= self.top_k <= self.num_experts:
            raise ConfigError(f"model.moe.top_k={self.top_k!r}: expected 1 to model.moe.num_experts={self.num_experts}")
        if not self.capacity_factor > 0:
            raise ConfigError(f"model.moe.capacity_factor={self.capacity_factor!r}: expected a positive number")
        if not self.balance_weight >= 0:
            raise ConfigError(f"model.moe.balance_weight={self.balance_weight!r}: expected a number >= 0")


class Routing(NamedTuple):
    """Where each of `T` tokens goes: `experts` and `gates` `(T, k)` (its chosen experts, best
    first, and their router probabilities) and the full router `probabilities` `(T, E)`."""

    experts: jax.Array
    gates: jax.Array
    probabilities: jax.Array


def route(logits: jax.Array, top_k: int) -> Routing:
    """The top-k routing of router `logits` `(T, E)`."""
    probabilities = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)
    gates, experts = jax.lax.top_k(probabilities, top_k)
    return Routing(experts, gates, probabilities)


def load_balancing_loss(routing: Routing, real: jax.Array) -> jax.Array:
    """Switch Transformer's auxiliary loss `E * sum_e f_e * P_e` over the `real` tokens `(T,)`:
    `f_e` the share of the tokens' expert choices that picked `e`, `P_e` the mean router
    probability of `e`. It is 1 when routing is uniform and grows as it concentrates."""
    num_experts = routing.probabilities.shape[-1]
    weight = real.astype(jnp.float32)
    count = jnp.maximum(jnp.sum(weight), 1.0)
    chosen = jnp.sum(jax.nn.one_hot(routing.experts, num_experts) * weight[:, None, None], axis=(0, 1))
    share = chosen / (count * routing.experts.shape[-1])
    mean_probability = jnp.sum(routing.probabilities * weight[:, None], axis=0) / count
    return num_experts * jnp.sum(share * mean_probability)


def dispatch_slots(experts: jax.Array, real: jax.Array, num_experts: int, capacity: int) -> jax.Array:
    """The buffer slot `expert * capacity + position` of each assignment, `(T, k)`, or
    `num_experts * capacity` (out of range: dropped) for padding and for assignments past an
    expert's capacity. First choices of all tokens are served before second choices, and
    within a choice rank, earlier tokens first."""
    by_rank = experts.T.reshape(-1)
    taken = jax.nn.one_hot(by_rank, num_experts, dtype=jnp.int32) * jnp.tile(real, experts.shape[1])[:, None]
    position = jnp.take_along_axis(jnp.cumsum(taken, axis=0) - 1, by_rank[:, None], axis=1)[:, 0]
    kept = (jnp.sum(taken, axis=1) > 0) & (position < capacity)
    slots = jnp.where(kept, by_rank * capacity + position, num_experts * capacity)
    return slots.reshape(experts.shape[1], -1).T


class MixtureOfExpertsFeedForward(nnx.Module):
    """`num_experts` feed-forward layers (hidden -> inner -> hidden) behind a top-k router; a
    drop-in for the dense `FeedForward` of a Transformer block."""

    def __init__(
        self,
        hidden_size: int,
        inner_size: int,
        activation: Callable[[jax.Array], jax.Array],
        dropout: float,
        config: MixtureOfExpertsConfig,
        *,
        rngs: nnx.Rngs,
    ):
        experts = config.num_experts
        init = jax.nn.initializers.lecun_normal(batch_axis=(0,))
        self.config = config
        self.router = nnx.Linear(hidden_size, experts, use_bias=False, rngs=rngs)
        self.inner_kernel = nnx.Param(init(rngs.params(), (experts, hidden_size, inner_size)))
        self.inner_bias = nnx.Param(jnp.zeros((experts, inner_size)))
        self.outer_kernel = nnx.Param(init(rngs.params(), (experts, inner_size, hidden_size)))
        self.outer_bias = nnx.Param(jnp.zeros((experts, hidden_size)))
        self.activation = activation
        self.dropout = Dropout(dropout)

    def __call__(self, x: jax.Array, valid: jax.Array, dropout: DropoutKeys | None) -> jax.Array:
        """`x` `(..., d)` with `valid` `(...)` True at real tokens -> `(..., d)` (zero at padding).
        With `dropout` keys (training) experts have a capacity and the balancing loss is sown."""
        tokens = x.reshape(-1, x.shape[-1])
        real = valid.reshape(-1).astype(jnp.int32)
        routing = route(self.router(tokens), self.config.top_k)
        training = dropout is not None
        if training:
            self.sow(AuxiliaryLoss, "load_balancing", self.config.balance_weight * load_balancing_loss(routing, real))
        experts = self.config.num_experts
        # Inference keeps every assignment: an expert gets at most one per token.
        capacity = self._capacity(len(tokens)) if training else len(tokens)
        slots = dispatch_slots(routing.experts, real, experts, capacity)
        owners = jnp.broadcast_to(jnp.arange(len(tokens))[:, None], slots.shape)
        buffer = jnp.zeros((experts * capacity, tokens.shape[-1]), tokens.dtype)
        buffer = buffer.at[slots.reshape(-1)].set(tokens[owners.reshape(-1)], mode="drop")
        outputs = self._experts(buffer.reshape(experts, capacity, -1), dropout).reshape(experts * capacity, -1)
        served = outputs.at[slots].get(mode="fill", fill_value=0)
        combined = jnp.sum(served * routing.gates[..., None].astype(served.dtype), axis=1)
        return combined.reshape(x.shape)

    def _capacity(self, token_count: int) -> int:
        per_expert = self.config.capacity_factor * self.config.top_k * token_count / self.config.num_experts
        return max(1, min(token_count, math.ceil(per_expert)))

    def _experts(self, buffer: jax.Array, dropout: DropoutKeys | None) -> jax.Array:
        """`(E, C, d)` tokens in each expert's slots -> each expert's outputs for them."""
        inner = jnp.einsum("ecd,edh->ech", buffer, self.inner_kernel[...]) + self.inner_bias[...][:, None]
        inner = self.dropout(self.activation(inner), dropout)
        return jnp.einsum("ech,ehd->ecd", inner, self.outer_kernel[...]) + self.outer_bias[...][:, None]
