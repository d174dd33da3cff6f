"""Multitask interest models: one behaviour encoder shared by every task, a way of sharing
experts between the tasks (Shared-Bottom, MMoE, PLE, or none for ESMM), and a tower per task."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from dynint.data.ctr_samples import CTRBatch
from dynint.models.ctr import CTR_ENCODERS
from dynint.models.ctr.layers import MLP
from dynint.models.dropout import DropoutKeys
from dynint.models.item_representation import ItemContent
from dynint.models.multitask.config import ESMMConfig, MMoEConfig, MultitaskConfig, PLEConfig, SharedBottomConfig
from dynint.models.multitask.layers import CGCLayer, Experts, Gate, mix


class MultitaskOutputs(NamedTuple):
    """`outputs[task]` `(B,)`: the logit of `engagement` and `like` (ESMM: pCTR's and pCVR's), the
    predicted `rating`; `auxiliary`: the encoder's weighted auxiliary loss; `gates[name]`
    `(B, experts)`: each gate's weights over its experts (none for Shared-Bottom and ESMM)."""

    outputs: dict[str, jax.Array]
    auxiliary: jax.Array
    gates: dict[str, jax.Array]


class MultitaskModel(nnx.Module):
    """The encoder, the sharing layers a subclass builds in `build_sharing`, then the towers.

    Built as `Model(config, num_items, max_length, feature_sizes, rngs=..., content=None)` like a
    CTR model (`content` for the encoder's `model.encoder.items`) and called as
    `model(batch, dropout=keys | None) -> MultitaskOutputs`.
    """

    entire_space = False  # ESMM trains the like tower through pCTCVR on every sample

    def __init__(
        self,
        config: MultitaskConfig,
        num_items: int,
        max_length: int,
        feature_sizes: Mapping[str, int],
        *,
        rngs: nnx.Rngs,
        content: ItemContent | None = None,
    ):
        self.tasks = tuple(config.tasks)
        encoder_class = CTR_ENCODERS[config.encoder.name][1]
        self.encoder = encoder_class(config.encoder, num_items, max_length, feature_sizes, rngs=rngs, content=content)
        tower_input = self.build_sharing(config, self.encoder.output_size, rngs=rngs)
        self.towers = nnx.List(
            [MLP(tower_input, config.tower_sizes, config.activation, config.dropout, rngs=rngs) for _ in self.tasks]
        )
        # log sigma^2 per task (Kendall et al., CVPR 2018), learned with the model when asked for.
        self.log_variances = nnx.Param(jnp.zeros(len(self.tasks))) if config.loss_weighting == "uncertainty" else None

    def build_sharing(self, config: MultitaskConfig, input_size: int, *, rngs: nnx.Rngs) -> int:
        """Build the layers between the encoder and the towers; returns a tower's input size."""
        raise NotImplementedError

    def share(self, features: jax.Array, dropout: DropoutKeys | None) -> tuple[list[jax.Array], dict[str, jax.Array]]:
        """Each task's tower input and the gate weights, from the encoder's features."""
        raise NotImplementedError

    def __call__(self, batch: CTRBatch, *, dropout: DropoutKeys | None = None) -> MultitaskOutputs:
        features, auxiliary = self.encoder.encode(batch, dropout)
        inputs, gates = self.share(features, dropout)
        outputs = {
            task: tower(x, dropout)[:, 0] for task, tower, x in zip(self.tasks, self.towers, inputs, strict=True)
        }
        return MultitaskOutputs(outputs, auxiliary, gates)


class SharedBottom(MultitaskModel):
    """Every tower reads the same bottom MLP."""

    def build_sharing(self, config: SharedBottomConfig, input_size: int, *, rngs: nnx.Rngs) -> int:
        self.bottom = MLP(input_size, config.bottom_sizes, config.activation, config.dropout, None, rngs=rngs)
        return self.bottom.output_size

    def share(self, features, dropout):
        shared = self.bottom(features, dropout)
        return [shared] * len(self.tasks), {}


class MMoE(MultitaskModel):
    """Each task's tower reads its own softmax-gated mixture of the shared experts."""

    def build_sharing(self, config: MMoEConfig, input_size: int, *, rngs: nnx.Rngs) -> int:
        self.experts = Experts(
            input_size, config.num_experts, config.expert_sizes, config.activation, config.dropout, rngs=rngs
        )
        self.gates = nnx.List([Gate(input_size, config.num_experts, rngs=rngs) for _ in self.tasks])
        return self.experts.output_size

    def share(self, features, dropout):
        experts = self.experts(features, dropout)
        weights = {task: gate(features) for task, gate in zip(self.tasks, self.gates, strict=True)}
        return [mix(weights[task], experts) for task in self.tasks], weights


class PLE(MultitaskModel):
    """Stacked CGC layers: every level's task outputs are the next level's task inputs, and its
    shared output (from a gate over all of the level's experts) the next shared input. Gates are
    reported per level (`level1/like`, `level1/shared`, ...); a task gate's experts are its own,
    then the shared ones; the shared gate's are every task's own in task order, then the shared."""

    def build_sharing(self, config: PLEConfig, input_size: int, *, rngs: nnx.Rngs) -> int:
        sizes = [input_size] + [config.expert_sizes[-1]] * (config.num_levels - 1)
        self.levels = nnx.List(
            [
                CGCLayer(
                    size,
                    len(self.tasks),
                    config.num_task_experts,
                    config.num_shared_experts,
                    config.expert_sizes,
                    config.activation,
                    config.dropout,
                    shared_output=level < config.num_levels - 1,
                    rngs=rngs,
                )
                for level, size in enumerate(sizes)
            ]
        )
        return config.expert_sizes[-1]

    def share(self, features, dropout):
        task_inputs, shared_input = [features] * len(self.tasks), features
        gates = {}
        for number, level in enumerate(self.levels, start=1):
            task_inputs, shared_input, task_weights, shared_weights = level(task_inputs, shared_input, dropout)
            gates.update({f"level{number}/{task}": w for task, w in zip(self.tasks, task_weights, strict=True)})
            if shared_weights is not None:
                gates[f"level{number}/shared"] = shared_weights
        return task_inputs, gates


class ESMM(MultitaskModel):
    """The towers read the encoder's features directly (ESMM shares the embedding layer, here
    the whole behaviour encoder); the like tower's output is pCVR, and pCTCVR = pCTR x pCVR."""

    entire_space = True

    def build_sharing(self, config: ESMMConfig, input_size: int, *, rngs: nnx.Rngs) -> int:
        del config, rngs  # nothing between the encoder and the towers
        return input_size

    def share(self, features, dropout):
        return [features] * len(self.tasks), {}
