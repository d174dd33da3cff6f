"""A tiny CTR batch, tiny models and jitted passes, shared by the CTR model tests."""

from __future__ import annotations

from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from dynint.data.ctr_samples import CTRBatch, CTRSamples, make_ctr_batch
from dynint.models.ctr import CTR_MODELS
from dynint.models.dropout import DropoutKeys

NUM_ITEMS = 12
MAX_LENGTH = 6
FEATURE_SIZES = {"genre": 5}
# Genre tokens of items 0..12 (row 0 is padding): two per item, one for items 2, 3 and 9, none for item 7.
GENRES = np.array(
    [[0, 0], [1, 2], [2, 0], [3, 0], [1, 4], [4, 3], [2, 1], [0, 0], [3, 1], [4, 0], [1, 3], [2, 4], [3, 2]], np.int32
)
TINY = {
    "embedding_size": 4,
    "dropout": 0.5,
    "mlp_sizes": (8, 4),
    "attention_sizes": (6,),
    "auxiliary_sizes": (5,),
    "num_heads": 2,
}
MODEL_NAMES = tuple(CTR_MODELS)


def tiny_batch(length: int = MAX_LENGTH) -> CTRBatch:
    """Four rows with 3, 1, 6 and 0 behaviours, left-aligned and 0-padded to `length` (>= 6)."""
    histories = np.zeros((4, length), np.int32)
    for row, items in enumerate([[3, 7, 1], [5], [1, 2, 3, 4, 5, 6], []]):
        histories[row, : len(items)] = items
    samples = CTRSamples(
        users=np.arange(4),
        histories=histories,
        targets=np.array([4, 9, 12, 2], np.int32),
        labels=np.array([1, 0, 1, 0], np.float32),
        history_negatives=np.where(histories != 0, (histories * 5) % NUM_ITEMS + 1, 0).astype(np.int32),
    )
    return make_ctr_batch(samples, {"genre": GENRES})


def with_histories(batch: CTRBatch, histories: np.ndarray) -> CTRBatch:
    return batch._replace(histories=histories, history_tokens={"genre": GENRES[histories]})


def with_negatives(batch: CTRBatch, negatives: np.ndarray) -> CTRBatch:
    return batch._replace(history_negatives=negatives, negative_tokens={"genre": GENRES[negatives]})


def tiny_model(name: str, **overrides) -> nnx.Module:
    """A fresh tiny `name` model; the same overrides always give the same parameters."""
    graphdef, state = _tiny_model(name, tuple(sorted(overrides.items())))
    return nnx.merge(graphdef, state)


@lru_cache
def _tiny_model(name: str, overrides: tuple) -> tuple:
    config_class, module_class = CTR_MODELS[name]
    fields = config_class.__dataclass_fields__
    config = config_class(**{**{k: v for k, v in TINY.items() if k in fields}, **dict(overrides)})
    return nnx.split(module_class(config, NUM_ITEMS, MAX_LENGTH, FEATURE_SIZES, rngs=nnx.Rngs(0)))


def set_padding_embeddings(model: nnx.Module, value: float) -> None:
    """Set the padding rows (item 0, token 0) of `model`'s embedding tables to `value`."""
    for table in (model.embedding.items, *model.embedding.features):
        table.embedding[...] = table.embedding[...].at[0].set(value)


@nnx.jit
def forward(model: nnx.Module, batch: CTRBatch) -> tuple[jax.Array, jax.Array]:
    return model(batch, dropout=None)


@nnx.jit
def forward_with_dropout(model: nnx.Module, batch: CTRBatch, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    return model(batch, dropout=DropoutKeys(key))


@nnx.jit
def attention_weights(model: nnx.Module, batch: CTRBatch) -> jax.Array:
    return model.attention_weights(batch)


def total_loss(model: nnx.Module, batch: CTRBatch) -> jax.Array:
    """Binary log loss of the logits plus the (weighted) auxiliary loss, as a train step adds them."""
    logits, auxiliary = model(batch, dropout=None)
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, batch.labels)) + auxiliary


def click_loss(model: nnx.Module, batch: CTRBatch) -> jax.Array:
    """The binary log loss of the logits alone."""
    return jnp.mean(optax.sigmoid_binary_cross_entropy(model(batch, dropout=None)[0], batch.labels))


total_loss_gradients = nnx.jit(nnx.grad(total_loss))
click_loss_gradients = nnx.jit(nnx.grad(click_loss))
