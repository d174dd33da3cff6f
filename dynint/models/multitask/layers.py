"""Expert sharing between tasks: expert MLPs, softmax gates, and PLE's CGC layer."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from dynint.models.ctr.layers import MLP
from dynint.models.dropout import DropoutKeys


class Experts(nnx.Module):
    """`count` expert MLPs (hidden layers `sizes`, activation after the last too) on one input."""

    def __init__(
        self, input_size: int, count: int, sizes: Sequence[int], activation: str, dropout: float, *, rngs: nnx.Rngs
    ):
        self.experts = nnx.List([MLP(input_size, sizes, activation, dropout, None, rngs=rngs) for _ in range(count)])
        self.output_size = sizes[-1]

    def __len__(self) -> int:
        return len(self.experts)

    def __call__(self, x: jax.Array, dropout: DropoutKeys | None = None) -> jax.Array:
        """`(B, d)` -> `(B, count, output_size)`."""
        if not self.experts:
            return jnp.zeros((x.shape[0], 0, self.output_size), x.dtype)
        return jnp.stack([expert(x, dropout) for expert in self.experts], axis=1)


class Gate(nnx.Module):
    """A softmax over `count` experts, computed from the gate's input (one linear layer)."""

    def __init__(self, input_size: int, count: int, *, rngs: nnx.Rngs):
        self.linear = nnx.Linear(input_size, count, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        """`(B, d)` -> weights `(B, count)`, non-negative, summing to 1 per row."""
        return jax.nn.softmax(self.linear(x), axis=-1)


def mix(weights: jax.Array, experts: jax.Array) -> jax.Array:
    """The gate-weighted sum of the experts' outputs: `(B, E)`, `(B, E, d)` -> `(B, d)`."""
    return jnp.einsum("be,bed->bd", weights, experts)


class CGCLayer(nnx.Module):
    """Customized Gate Control (Tang et al., RecSys 2020): each task has its own experts and a gate
    over them and the shared experts, reading the task's input; with `shared_output`, a shared
    gate over all experts, reading the shared input, feeds the next layer's shared experts."""

    def __init__(
        self,
        input_size: int,
        num_tasks: int,
        num_task_experts: int,
        num_shared_experts: int,
        sizes: Sequence[int],
        activation: str,
        dropout: float,
        shared_output: bool,
        *,
        rngs: nnx.Rngs,
    ):
        self.task_experts = nnx.List(
            [Experts(input_size, num_task_experts, sizes, activation, dropout, rngs=rngs) for _ in range(num_tasks)]
        )
        self.shared_experts = Experts(input_size, num_shared_experts, sizes, activation, dropout, rngs=rngs)
        per_task = num_task_experts + num_shared_experts
        self.task_gates = nnx.List([Gate(input_size, per_task, rngs=rngs) for _ in range(num_tasks)])
        all_experts = num_tasks * num_task_experts + num_shared_experts
        self.shared_gate = Gate(input_size, all_experts, rngs=rngs) if shared_output else None
        self.output_size = sizes[-1]

    def __call__(
        self, task_inputs: Sequence[jax.Array], shared_input: jax.Array, dropout: DropoutKeys | None = None
    ) -> tuple[list[jax.Array], jax.Array | None, list[jax.Array], jax.Array | None]:
        """Per-task outputs, the shared output (None without `shared_output`), and the gate weights
        of each task and of the shared gate (experts ordered task-specific first, then shared)."""
        shared = self.shared_experts(shared_input, dropout)
        own = [experts(x, dropout) for experts, x in zip(self.task_experts, task_inputs, strict=True)]
        task_weights = [gate(x) for gate, x in zip(self.task_gates, task_inputs, strict=True)]
        outputs = [
            mix(weights, jnp.concatenate([experts, shared], axis=1))
            for weights, experts in zip(task_weights, own, strict=True)
        ]
        if self.shared_gate is None:
            return outputs, None, task_weights, None
        shared_weights = self.shared_gate(shared_input)
        shared_output = mix(shared_weights, jnp.concatenate([*own, shared], axis=1))
        return outputs, shared_output, task_weights, shared_weights
