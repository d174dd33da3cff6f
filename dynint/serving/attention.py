"""The attention a Transformer interest model pays to each history item when it predicts the next.

`history_attention` runs a restored model once on a history, as scoring does (its last
`max_length` items, left-aligned; a cloze model's trailing mask token), with its attention layers
sowing their softmax weights, and reads the weights of the query that scoring uses (the last
position) over the history positions, averaged over heads:

- `last-layer`: the last block's weights, what the representation scored against the item table
  attends to directly;
- `rollout` (Abnar and Zuidema, ACL 2020): every block's head-averaged weights mixed with the
  residual stream (`0.5 A + 0.5 I`, rows renormalised) and multiplied through the layers, so
  attention reached through earlier positions counts too. Needs every block's full weights, so a
  sparse (blockwise) model, whose earlier blocks never build them, supports only `last-layer`.
"""

from __future__ import annotations

from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from dynint.data.ragged import Ragged
from dynint.models.base import ClozeObjective
from dynint.models.transformer import MultiHeadSelfAttention
from dynint.train.scoring import query_windows

AttentionMode = Literal["last-layer", "rollout"]


class AttentionUnavailable(ValueError):
    """The model has no softmax self-attention to read (a GRU, HSTU's pointwise attention, a baseline)."""


def attention_layers(model: Any) -> list[MultiHeadSelfAttention] | None:
    """The self-attention modules of a model's Transformer encoder, first to last; None if it has none."""
    blocks = getattr(getattr(model, "encoder", None), "blocks", None)
    if not blocks:
        return None
    layers = [getattr(block, "attention", None) for block in blocks]
    return layers if all(isinstance(layer, MultiHeadSelfAttention) for layer in layers) else None


def history_attention(
    graphdef: Any, params: Any, objective: Any, max_length: int, history: np.ndarray, mode: AttentionMode
) -> np.ndarray:
    """`(len(window),)` attention weights over the last `min(len(history), window)` history items
    (oldest first) that the model reads, where the window is what scoring feeds it; see the module
    notes. Non-negative; for `last-layer` they sum to 1 over the window (a cloze model's mask token
    left out, so a little less there)."""
    model = nnx.merge(graphdef, params)
    layers = attention_layers(model)
    if layers is None:
        raise AttentionUnavailable(f"{type(model).__name__} has no softmax self-attention to explain with")
    if mode == "rollout" and any(layer.pattern is not None for layer in layers):
        raise AttentionUnavailable(
            f"{type(model).__name__} attends sparsely (blockwise): only its last layer's weights exist; "
            "use the last-layer attention"
        )
    window = query_windows(Ragged.from_rows([np.asarray(history)]), objective, max_length)
    inputs = jnp.asarray(np.asarray(window.values, dtype=np.int32)[None, :])
    length = inputs.shape[1]
    read = layers if mode == "rollout" else layers[-1:]
    for layer in read:
        layer.keeps_weights = True
    forward = nnx.capture(model, nnx.Intermediate)
    if mode == "rollout":
        _, captured = forward(inputs)  # every query of every block, so the rollout can follow attention back
    else:
        _, captured = forward(inputs, positions=jnp.array([length - 1], dtype=jnp.int32))
    weights = [np.asarray(leaf, dtype=np.float64).mean(axis=1)[0] for leaf in jax.tree.leaves(captured)]
    if mode == "rollout":
        flow = np.eye(length)
        for layer_weights in weights:  # (L, L), query by key
            mixed = 0.5 * layer_weights + 0.5 * np.eye(length)
            flow = (mixed / mixed.sum(axis=1, keepdims=True)) @ flow
        last = flow[length - 1]
    else:
        [last_layer] = weights
        last = last_layer[-1]  # the one query computed: the last position
    items = length - 1 if isinstance(objective, ClozeObjective) else length  # the mask token comes last
    return last[:items]
