"""A tiny CTR batch and tiny models, shared by the CTR model tests."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from dynint.data.ctr_samples import CTRBatch, CTRSamples, make_ctr_batch
from dynint.models.ctr import CTR_MODELS

NUM_ITEMS = 12
MAX_LENGTH = 6
FEATURE_SIZES = {"genre": 5}
# Genre tokens of items 0..12 (row 0 is padding): two per item, one for items 2, 3 and 9, none for item 7.
GENRES = np.array(
    [[0, 0], [1, 2], [2, 0], [3, 0], [1, 4], [4, 3], [2, 1], [0, 0], [3, 1], [4, 0], [1, 3], [2, 4], [3, 2]], np.int32
)
TINY = {"embedding_size": 4, "mlp_sizes": (8, 4), "attention_sizes": (6,), "auxiliary_sizes": (5,), "num_heads": 2}
MODEL_NAMES = tuple(CTR_MODELS)


def tiny_batch(length: int = MAX_LENGTH) -> CTRBatch:
    """Four rows with 3, 1, 6 and 0 behaviours, left-aligned and 0-padded to `length` (>= 6)."""
    histories = np.zeros((4, length), np.int32)
    for row, items in enumerate([[3, 7, 1], [5], [1, 2, 3, 4, 5, 6], []]):
        histories[row, : len(items)] = items
    negatives = np.where(histories != 0, (histories * 5) % NUM_ITEMS + 1, 0).astype(np.int32)
    samples = CTRSamples(
        users=np.arange(4),
        histories=histories,
        targets=np.array([4, 9, 12, 2], np.int32),
        labels=np.array([1, 0, 1, 0], np.float32),
        history_negatives=negatives,
    )
    return make_ctr_batch(samples, {"genre": GENRES})


def tiny_model(name: str, **overrides) -> nnx.Module:
    config_class, module_class = CTR_MODELS[name]
    fields = config_class.__dataclass_fields__
    config = config_class(**{**{k: v for k, v in TINY.items() if k in fields}, **overrides})
    return module_class(config, NUM_ITEMS, MAX_LENGTH, FEATURE_SIZES, rngs=nnx.Rngs(0))


def set_padding_embeddings(model: nnx.Module, value: float) -> None:
    """Set the padding rows (item 0, token 0) of `model`'s embedding tables to `value`."""
    for table in (model.embedding.items, *model.embedding.features):
        table.embedding.value = table.embedding.value.at[0].set(value)


def total_loss(model: nnx.Module, batch: CTRBatch) -> jax.Array:
    """Binary log loss of the logits plus the (weighted) auxiliary loss, as a train step adds them."""
    logits, auxiliary = model(batch, dropout=None)
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, batch.labels)) + auxiliary
