"""What a sequential model costs to train: its non-embedding parameters and the floating-point
operations of one training example (one supervised position), for scaling studies.

The count follows the usual estimate for Transformers (Kaplan et al., "Scaling Laws for Neural
Language Models", 2020): a forward pass costs 2 operations per weight of the body's matrices
for each position, attention adds `2 * 2 * d * T` per layer (scores and weighted values over
the `T` positions the kernel computes, masked ones included), the output layer `2 * d * C` for
`C` scored classes (the whole catalogue under `ce`, the target and its negatives under sampled
losses), and the backward pass twice the forward. Embedding lookups cost nothing here.
"""

from __future__ import annotations

from typing import Any

import jax

from dynint.models.base import SequentialModelConfig

EMBEDDING_LEAF = "embedding"
"""The name `nnx.Embed` gives its table: item, position and segment tables are embeddings."""


def non_embedding_parameters(params: Any) -> int:
    """Trainable values outside embedding tables: the body a scaling study sizes."""
    total = 0
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        names = [str(getattr(entry, "key", getattr(entry, "name", ""))) for entry in path]
        if EMBEDDING_LEAF not in names:
            total += int(leaf.size)
    return total


def training_flops_per_example(
    model: SequentialModelConfig, body_parameters: int, max_length: int, num_items: int
) -> float:
    """Forward and backward operations of one supervised position (see the module's docstring).
    Attention is counted for models with heads (`num_heads`), over `max_length` positions."""
    forward = 2.0 * body_parameters
    if hasattr(model, "num_heads"):
        forward += 4.0 * model.hidden_size * max_length * getattr(model, "num_layers", 1)
    classes = num_items if model.loss == "ce" else 1 + model.num_negatives
    forward += 2.0 * model.hidden_size * classes
    return 3.0 * forward


def flops_to_epoch(history: list[dict[str, Any]], epoch: int, flops_per_example: float) -> float:
    """Training operations spent on the first `epoch` epochs of a loop's `history` (each epoch's
    `examples` are its supervised positions)."""
    return flops_per_example * sum(entry["examples"] for entry in history[:epoch])
