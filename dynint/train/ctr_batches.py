"""Training batches of CTR samples, and batched predictions of a CTR model."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import jax
import numpy as np
from flax import nnx

from dynint.data.ctr_samples import CTRBatch, CTRData, CTRStage


class _EpochOfBatches(Sequence):
    """An epoch's batches, built one at a time as the loop asks for them (an epoch of Amazon
    samples with their feature tokens would not fit in memory at once)."""

    def __init__(self, data: CTRData, order: np.ndarray, batch_size: int):
        self.data, self.order, self.batch_size = data, order, batch_size

    def __len__(self) -> int:
        return len(self.order) // self.batch_size

    def __getitem__(self, index: int) -> CTRBatch:  # type: ignore[override]
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.data.batch("train", self.order[index * self.batch_size : (index + 1) * self.batch_size])

    def __iter__(self) -> Iterator[CTRBatch]:
        return (self[i] for i in range(len(self)))


class CTRBatcher:
    """`EpochBatches` over the training samples: shuffled by `(seed, epoch)`, `batch_size` rows per
    batch; the remainder of an epoch's order is left out (different samples each epoch), so every
    batch has one static shape."""

    def __init__(self, data: CTRData, batch_size: int):
        if len(data.train) < batch_size:
            raise ValueError(f"{len(data.train)} training samples cannot fill one batch of {batch_size}")
        self.data = data
        self.batch_size = batch_size

    def num_batches(self, seed: int, epoch: int) -> int:
        return len(self.data.train) // self.batch_size

    def epoch(self, seed: int, epoch: int) -> _EpochOfBatches:
        order = np.random.default_rng([seed, epoch]).permutation(len(self.data.train))
        return _EpochOfBatches(self.data, order, self.batch_size)

    def examples(self, batch: CTRBatch) -> float:
        return float(len(batch.labels))


def predict_logits(graphdef: Any, params: Any, data: CTRData, stage: CTRStage, batch_size: int) -> np.ndarray:
    """The model's click logit for every sample of `stage`."""
    return predict_in_batches(partial(_logits, graphdef, params), data, stage, batch_size).astype(np.float64)


def predict_in_batches(predict: Callable[[CTRBatch], Any], data: CTRData, stage: CTRStage, batch_size: int) -> Any:
    """`predict(batch)` (a pytree of arrays with one row per sample) for every sample of `stage`,
    `batch_size` at a time. The last batch is filled up with copies of its last row, so all calls
    share one shape; a row's prediction never depends on the others."""
    count = len(data.stage(stage))
    parts = []
    for start in range(0, count, batch_size):
        rows = np.arange(start, min(start + batch_size, count))
        filled = np.concatenate([rows, np.full(batch_size - len(rows), rows[-1])]) if count > batch_size else rows
        parts.append(jax.device_get(predict(data.batch(stage, filled))))
    return jax.tree.map(lambda *pieces: np.concatenate(pieces)[:count], *parts)  # the fill is at the end


@partial(jax.jit, static_argnums=0)
def _logits(graphdef: Any, params: Any, batch: CTRBatch) -> jax.Array:
    return nnx.merge(graphdef, params)(batch)[0]
