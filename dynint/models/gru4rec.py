"""GRU4Rec (Hidasi et al., ICLR 2016) as a next-item model: a GRU over the sequence, predicting at every step."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import nnx

from dynint.errors import ConfigError
from dynint.models.base import NextItemObjective, SequentialModelConfig
from dynint.models.dropout import Dropout, DropoutKeys
from dynint.models.item_representation import ItemContent, ItemRepresentation


@dataclass(frozen=True)
class GRU4RecConfig(SequentialModelConfig):
    """`gru_size` is the recurrent state size; states are projected to `hidden_size` (the item
    embedding size) for scoring. `dropout` applies to the item embeddings."""

    name: str = "gru4rec"
    gru_size: int = 128
    num_layers: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.gru_size < 1 or self.num_layers < 1:
            raise ConfigError("model.gru_size and model.num_layers must be positive integers")


class GRULayer(nnx.Module):
    """One GRU layer over time. The input projections of all steps are one matrix product;
    only the recurrent product runs inside the scan."""

    def __init__(self, input_size: int, state_size: int, *, rngs: nnx.Rngs):
        self.input_projection = nnx.Linear(input_size, 3 * state_size, rngs=rngs)
        self.state_projection = nnx.Linear(
            state_size, 3 * state_size, kernel_init=nnx.initializers.orthogonal(), rngs=rngs
        )
        self.state_size = state_size

    def __call__(self, x: jax.Array) -> jax.Array:
        """`(B, L, input_size)` -> states `(B, L, state_size)`."""
        projected = jnp.swapaxes(self.input_projection(x), 0, 1)
        kernel, bias = self.state_projection.kernel[...], self.state_projection.bias[...]

        def step(state, inputs):
            reset_in, update_in, candidate_in = jnp.split(inputs, 3, axis=-1)
            reset_state, update_state, candidate_state = jnp.split(state @ kernel + bias, 3, axis=-1)
            reset = jax.nn.sigmoid(reset_in + reset_state)
            update = jax.nn.sigmoid(update_in + update_state)
            candidate = jnp.tanh(candidate_in + reset * candidate_state)
            state = (1.0 - update) * candidate + update * state
            return state, state

        initial = jnp.zeros((x.shape[0], self.state_size), x.dtype)
        _, states = jax.lax.scan(step, initial, projected)
        return jnp.swapaxes(states, 0, 1)


class GRU4Rec(nnx.Module):
    """Sequences are left-aligned, so the padding after a sequence never reaches its real steps."""

    objective = NextItemObjective()

    def __init__(
        self,
        config: GRU4RecConfig,
        num_items: int,
        max_length: int,
        *,
        rngs: nnx.Rngs,
        content: ItemContent | None = None,
    ):
        del max_length  # a recurrent model has no position table
        self.items = ItemRepresentation(config.items, num_items, config.hidden_size, content, rngs=rngs)
        self.dropout = Dropout(config.dropout)
        sizes = [config.hidden_size] + [config.gru_size] * config.num_layers
        self.layers = nnx.List([GRULayer(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:], strict=True)])
        self.output = nnx.Linear(config.gru_size, config.hidden_size, rngs=rngs)

    def __call__(
        self, inputs: jax.Array, *, dropout: DropoutKeys | None = None, positions: jax.Array | None = None
    ) -> jax.Array:
        x = self.dropout(self.items(inputs, dropout), dropout)
        for layer in self.layers:
            x = layer(x)
        if positions is not None:
            x = x[jnp.arange(x.shape[0]), positions]
        return self.output(x)

    def output_table(self) -> jax.Array:
        return self.items.table()
