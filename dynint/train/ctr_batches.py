"""Training batches of CTR samples grouped by history length, and batched predictions of a CTR model.

A sample goes to the shortest length bucket that holds its history and is padded to that
length only: most histories are far shorter than the longest kept (a mean of about 8 of 50 on
Amazon Beauty), and a recurrent model such as DIEN pays for every padded step. A few static
shapes cover all batches; since every CTR model's output for a row is independent of its
padding, bucketing changes the cost of a prediction, not its value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import jax
import numpy as np
from flax import nnx

from dynint.data.ctr_samples import CTRBatch, CTRData, CTRSamples, CTRStage


class _EpochOfBatches(Sequence):
    """An epoch's batches, built one at a time as the loop asks for them (an epoch of Amazon
    samples with their feature tokens would not fit in memory at once). `plan[i]` is batch `i`'s
    padded history length and rows."""

    def __init__(self, data: CTRData, plan: list[tuple[int, np.ndarray]]):
        self.data, self.plan = data, plan

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, index: int) -> CTRBatch:  # type: ignore[override]
        if not 0 <= index < len(self):
            raise IndexError(index)
        length, rows = self.plan[index]
        return self.data.batch("train", rows, length)

    def __iter__(self) -> Iterator[CTRBatch]:
        return (self[i] for i in range(len(self)))


class CTRBatcher:
    """`EpochBatches` over the training samples, each padded to its length bucket (`buckets`,
    increasing, the last `data.max_length`; None: one bucket, every history padded to
    `data.max_length`). Per `(seed, epoch)`, each bucket's samples are shuffled and cut into
    batches of `batch_size` rows, the remainder of each bucket left out (different samples each
    epoch, so every batch of a bucket has one static shape), and all batches are shuffled together."""

    def __init__(self, data: CTRData, batch_size: int, buckets: tuple[int, ...] | None = None):
        self.buckets = checked_buckets(buckets, data.max_length)
        self.data = data
        self.batch_size = batch_size
        self.bucket_of = length_buckets(data.train, self.buckets)
        self.batches_per_bucket = np.bincount(self.bucket_of, minlength=len(self.buckets)) // batch_size
        if not self.batches_per_bucket.any():
            raise ValueError(
                f"{len(data.train)} training samples over buckets {list(self.buckets)} cannot fill one batch "
                f"of {batch_size}"
            )

    def num_batches(self, seed: int, epoch: int) -> int:
        return int(self.batches_per_bucket.sum())

    def epoch(self, seed: int, epoch: int) -> _EpochOfBatches:
        rng = np.random.default_rng([seed, epoch])
        plan = []
        for bucket, (length, count) in enumerate(zip(self.buckets, self.batches_per_bucket, strict=True)):
            rows = rng.permutation(np.flatnonzero(self.bucket_of == bucket))[: count * self.batch_size]
            plan += [(length, batch) for batch in rows.reshape(count, self.batch_size)]
        return _EpochOfBatches(self.data, [plan[i] for i in rng.permutation(len(plan))])

    def examples(self, batch: CTRBatch) -> float:
        return float(len(batch.labels))


def checked_buckets(buckets: Sequence[int] | None, max_length: int) -> tuple[int, ...]:
    """`buckets` as a tuple (None: `(max_length,)`), which must increase and end at `max_length`."""
    buckets = tuple(buckets) if buckets else (max_length,)
    if list(buckets) != sorted(set(buckets)) or buckets[-1] != max_length or buckets[0] < 1:
        raise ValueError(f"buckets {list(buckets)}: expected increasing lengths ending at max_length={max_length}")
    return buckets


def length_buckets(samples: CTRSamples, buckets: Sequence[int]) -> np.ndarray:
    """Per sample, the index of the shortest of `buckets` that holds its history."""
    return np.searchsorted(np.asarray(buckets), np.count_nonzero(samples.histories, axis=1))


def predict_logits(
    graphdef: Any,
    params: Any,
    data: CTRData,
    stage: CTRStage,
    batch_size: int,
    buckets: tuple[int, ...] | None = None,
) -> np.ndarray:
    """The model's click logit for every sample of `stage`."""
    predict = partial(_logits, graphdef, params)
    return predict_in_batches(predict, data, stage, batch_size, buckets).astype(np.float64)


def predict_in_batches(
    predict: Callable[[CTRBatch], Any],
    data: CTRData,
    stage: CTRStage,
    batch_size: int,
    buckets: tuple[int, ...] | None = None,
) -> Any:
    """`predict(batch)` (a pytree of arrays with one row per sample) for every sample of `stage`,
    in sample order. Samples are predicted bucket by bucket (as `CTRBatcher` groups them; None:
    one bucket of `data.max_length`), `batch_size` at a time; a bucket's last batch is filled
    up with copies of its last row to the next power of two, so few shapes are compiled. A
    row's prediction never depends on the others."""
    samples = data.stage(stage)
    buckets = checked_buckets(buckets, data.max_length)
    bucket_of = length_buckets(samples, buckets)
    order, parts = [], []
    for bucket, length in enumerate(buckets):
        members = np.flatnonzero(bucket_of == bucket)
        for start in range(0, len(members), batch_size):
            rows = members[start : start + batch_size]
            size = min(batch_size, 1 << (len(rows) - 1).bit_length())
            filled = np.concatenate([rows, np.full(size - len(rows), rows[-1])])
            outputs = jax.device_get(predict(data.batch(stage, filled, length)))
            parts.append(jax.tree.map(partial(_first_rows, len(rows)), outputs))
            order.append(rows)
    position = np.empty(len(samples), np.int64)
    position[np.concatenate(order)] = np.arange(len(samples))
    return jax.tree.map(lambda *pieces: np.concatenate(pieces)[position], *parts)


def _first_rows(count: int, array: np.ndarray) -> np.ndarray:
    return array[:count]


@partial(jax.jit, static_argnums=0)
def _logits(graphdef: Any, params: Any, batch: CTRBatch) -> jax.Array:
    return nnx.merge(graphdef, params)(batch)[0]
