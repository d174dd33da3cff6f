"""Training batches: per-sequence examples grouped into length buckets, with a static token buffer.

Sequences are left-aligned and padded to their bucket's length, so a few static shapes cover
all batches and short sequences do not pay for long ones. The positions a loss is computed on
are gathered into a buffer of static size (the bucket's token budget), so padding never reaches
the output layer. Batch composition and order depend only on the seed and the epoch, which
makes an epoch reproducible and resumable.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from dynint.data.ragged import Ragged
from dynint.models.base import ClozeObjective, NextItemObjective, Objective, TimedItems
from dynint.train.windows import last_items, left_aligned, positions_in_rows, relative_times, value_index

if TYPE_CHECKING:
    from dynint.train.config import TrainConfig

_TOKEN_ALIGNMENT = 64


class TrainBatch(NamedTuple):
    """`inputs` `(B, L)` item ids (0 = padding), or `TimedItems` (ids and event times) for a model
    that reads times; `token_index` `(T,)` flat positions `b * L + t`
    of the predicted positions with their `token_target` items, `token_weight` 1 for real
    entries and 0 for the unused tail of the buffer. `catalogue_size` `(B,)`, when set, holds
    the number `n` of items the loss ranges over (`1..n`, every row the same; an input, not a
    shape, so a growing catalogue reuses the compiled step); None: the whole item table."""

    inputs: np.ndarray | TimedItems
    token_index: np.ndarray
    token_target: np.ndarray
    token_weight: np.ndarray
    catalogue_size: np.ndarray | None = None

    @property
    def item_ids(self) -> np.ndarray:
        """The `(B, L)` item ids of `inputs`, with or without their event times."""
        return self.inputs.items if isinstance(self.inputs, TimedItems) else self.inputs


@dataclass(frozen=True)
class BatchShapes:
    """The static shapes of a batcher's batches, per length bucket: the token budget `T` and the
    row count `B`. A batcher given the shapes of another compiles to the same train steps."""

    token_budgets: tuple[int, ...]
    rows: tuple[int, ...]


@dataclass(frozen=True)
class Examples:
    """Model inputs per sequence; `targets` and `predict` are aligned with `inputs.values`:
    which positions carry a loss, and the item to predict there."""

    inputs: Ragged
    targets: np.ndarray
    predict: np.ndarray

    def predictions_per_row(self) -> np.ndarray:
        return np.bincount(self.inputs.row_ids(), weights=self.predict, minlength=len(self.inputs)).astype(np.int64)


def training_windows(sequences: Ragged, objective: Objective, max_length: int) -> Ragged:
    """Each sequence's last items that one training example covers (sequences of fewer than 2 items are dropped):
    `max_length + 1` for next-item prediction (inputs and their shifted targets), `max_length` for the cloze task."""
    span = max_length + 1 if isinstance(objective, NextItemObjective) else max_length
    return last_items(sequences.take(np.flatnonzero(sequences.lengths >= 2)), span)


def make_examples(windows: Ragged, objective: Objective, rng: np.random.Generator | None = None) -> Examples:
    """Next-item: inputs are a window minus its last item, each predicting the following item.
    Cloze: each item is replaced by the mask token with the objective's probability (at least one
    per window, drawn from `rng`) and the replaced items are predicted."""
    if isinstance(objective, NextItemObjective):
        lengths = windows.lengths - 1
        starts = np.repeat(windows.offsets[:-1], lengths) + positions_in_rows(lengths)
        inputs = Ragged.from_lengths(windows.values[starts], lengths)
        return Examples(inputs, windows.values[starts + 1], np.ones(len(starts), dtype=bool))
    if isinstance(objective, ClozeObjective):
        if rng is None:
            raise ValueError("the cloze objective draws its masks from `rng`; got None")
        masked = rng.random(len(windows.values)) < objective.mask_probability
        rows = windows.row_ids()
        unmasked_rows = np.flatnonzero(np.bincount(rows, weights=masked, minlength=len(windows)) == 0)
        picks = rng.integers(0, windows.lengths[unmasked_rows])
        masked[windows.offsets[unmasked_rows] + picks] = True
        values = np.where(masked, objective.mask_token, windows.values)
        return Examples(Ragged.from_lengths(values, windows.lengths), windows.values.copy(), masked)
    raise TypeError(f"unknown objective {objective!r}")


def targets_from(
    sequences: Ragged, objective: Objective, max_length: int, loss_from: np.ndarray
) -> tuple[Ragged, Examples]:
    """Next-item examples whose loss counts only the targets at sequence positions from
    `loss_from[r]` on (an update on a window's new events, with the older events as their
    inputs). Sequences without such a target in their last `max_length + 1` items are dropped."""
    if not isinstance(objective, NextItemObjective):
        raise ValueError("loss_from applies to next-item objectives only")
    loss_from = np.asarray(loss_from, dtype=np.int64)
    if loss_from.shape != (len(sequences),):
        raise ValueError(f"loss_from needs one position per sequence ({len(sequences)}); got shape {loss_from.shape}")
    kept = np.flatnonzero((sequences.lengths >= 2) & (loss_from < sequences.lengths))
    windows = last_items(sequences.take(kept), max_length + 1)
    examples = make_examples(windows, objective)
    # Input i of a window predicts the item at window position i + 1, sequence position start + i + 1.
    first_in_sequence = sequences.lengths[kept] - windows.lengths
    rows = examples.inputs.row_ids()
    target_position = first_in_sequence[rows] + positions_in_rows(examples.inputs.lengths) + 1
    predict = target_position >= loss_from[kept][rows]
    counted = np.flatnonzero(np.bincount(rows, weights=predict, minlength=len(windows)) > 0)
    index = value_index(examples.inputs, counted)
    inputs = Ragged.from_lengths(examples.inputs.values[index], examples.inputs.lengths[counted])
    return windows.take(counted), Examples(inputs, examples.targets[index], predict[index])


class SequenceBatcher:
    """Plans and builds the batches of every epoch for one set of training sequences.

    A sequence goes to the shortest bucket that holds its inputs. Each bucket has a static
    token budget: about `batch_size` times the mean number of predicted positions per sequence,
    capped at `max_tokens`. A batch is closed when it has `batch_size` sequences or its next
    sequence would overflow the budget, so buffers are nearly full and never overflow. A bucket
    whose shortest sequences fill the budget with fewer than `batch_size` rows gets that many
    rows only, so capped long-sequence batches carry no empty rows. Row counts and budgets are
    multiples of `alignment` (the number of devices a batch is split over). With `loss_from`
    (next-item only), sequence `r`'s loss counts only its targets from position `loss_from[r]`
    on (`targets_from`). `shapes` fixes the batch shapes instead of deriving them from these
    sequences (any shapes hold every sequence: a budget is at least its bucket's length), and
    `catalogue_size` is set on every batch (see `TrainBatch`). With `times` (the events' times,
    row for row; next-item only, without `loss_from`) the inputs are `TimedItems`.
    """

    def __init__(
        self,
        sequences: Ragged,
        objective: Objective,
        *,
        max_length: int,
        buckets: tuple[int, ...],
        batch_size: int,
        max_tokens: int,
        alignment: int = 1,
        loss_from: np.ndarray | None = None,
        shapes: BatchShapes | None = None,
        catalogue_size: int | None = None,
        times: Ragged | None = None,
    ):
        if buckets[-1] != max_length:
            raise ValueError(f"the last bucket must be max_length={max_length}; got buckets {buckets}")
        self.objective = objective
        self.buckets = buckets
        self.batch_size = batch_size
        self.catalogue_size = catalogue_size
        if loss_from is None:
            self.windows = training_windows(sequences, objective, max_length)
            self._examples = None if isinstance(objective, ClozeObjective) else make_examples(self.windows, objective)
        else:
            self.windows, self._examples = targets_from(sequences, objective, max_length, loss_from)
        if not len(self.windows):
            raise ValueError("no training sequence has the 2 items a training example needs")
        if times is not None and loss_from is not None:
            raise ValueError("event times with loss_from (updates on new events) are not supported yet")
        self._input_times = None if times is None else self._times_of_inputs(sequences, times, objective, max_length)
        input_lengths = self.windows.lengths - (1 if isinstance(objective, NextItemObjective) else 0)
        self.bucket_of = np.searchsorted(np.asarray(buckets), input_lengths)
        expected = input_lengths.astype(np.float64)
        if isinstance(objective, ClozeObjective):
            expected = np.maximum(1.0, objective.mask_probability * expected)
        elif loss_from is not None:
            expected = self._examples.predictions_per_row().astype(np.float64)
        step = math.lcm(_TOKEN_ALIGNMENT, alignment)
        self.token_budgets, self.rows = [], []
        for b, length in enumerate(buckets):
            members = expected[self.bucket_of == b]
            budget = step * math.ceil(batch_size * (members.mean() if len(members) else length) / step)
            budget = max(min(budget, batch_size * length, max_tokens), step * math.ceil(length / step))
            fewest = members.min() if len(members) else 1.0  # predictions of the bucket's shortest example
            self.token_budgets.append(budget)
            self.rows.append(min(batch_size, alignment * math.ceil(budget / fewest / alignment)))
        if shapes is not None:
            self._use_shapes(shapes, step)

    def _times_of_inputs(self, sequences: Ragged, times: Ragged, objective: Objective, max_length: int) -> Ragged:
        """The time of every input event of the examples, aligned with `self._examples.inputs`:
        the examples depend on the lengths alone, so the times' examples line up with the items'."""
        if not isinstance(objective, NextItemObjective):
            raise ValueError("event times are supported for next-item objectives only")
        if not np.array_equal(times.lengths, sequences.lengths):
            raise ValueError("event times must match the training sequences row for row and event for event")
        return make_examples(training_windows(times, objective, max_length), objective).inputs

    def _use_shapes(self, shapes: BatchShapes, step: int) -> None:
        if len(shapes.token_budgets) != len(self.buckets) or len(shapes.rows) != len(self.buckets):
            raise ValueError(f"batch shapes {shapes} do not match the {len(self.buckets)} buckets {self.buckets}")
        for length, budget, rows in zip(self.buckets, shapes.token_budgets, shapes.rows, strict=True):
            if budget < length or budget % step or rows < 1:
                raise ValueError(
                    f"batch shapes {shapes}: bucket {length} needs a token budget of at least {length} in "
                    f"multiples of {step} and at least one row"
                )
        self.token_budgets, self.rows = list(shapes.token_budgets), list(shapes.rows)

    @property
    def shapes(self) -> BatchShapes:
        return BatchShapes(tuple(self.token_budgets), tuple(self.rows))

    @classmethod
    def for_training(
        cls,
        sequences: Ragged,
        objective: Objective,
        train: TrainConfig,
        *,
        alignment: int = 1,
        loss_from: np.ndarray | None = None,
        shapes: BatchShapes | None = None,
        catalogue_size: int | None = None,
        times: Ragged | None = None,
    ) -> SequenceBatcher:
        """The batcher `train`'s lengths, buckets, batch size and token budget describe."""
        return cls(
            sequences,
            objective,
            max_length=train.max_length,
            buckets=train.buckets,
            batch_size=train.batch_size,
            max_tokens=train.max_tokens_per_batch,
            alignment=alignment,
            loss_from=loss_from,
            shapes=shapes,
            catalogue_size=catalogue_size,
            times=times,
        )

    @property
    def num_sequences(self) -> int:
        return len(self.windows)

    def epoch(self, seed: int, epoch: int) -> list[TrainBatch]:
        """All batches of `epoch`, in training order; a pure function of `(seed, epoch)`."""
        examples, plan = self._plan(seed, epoch)
        return [self._build(examples, bucket, rows) for bucket, rows in plan]

    def examples(self, batch: TrainBatch) -> float:
        """The number of predicted positions in `batch`."""
        return float(batch.token_weight.sum())

    def num_batches(self, seed: int, epoch: int) -> int:
        return len(self._plan(seed, epoch)[1])

    def _plan(self, seed: int, epoch: int) -> tuple[Examples, list[tuple[int, np.ndarray]]]:
        """The epoch's examples and its batches as (bucket, rows of `examples`), in training order."""
        rng = np.random.default_rng([seed, epoch])
        examples = self._examples if self._examples is not None else make_examples(self.windows, self.objective, rng)
        predictions = examples.predictions_per_row()
        plan = []
        for b in range(len(self.buckets)):
            rows = rng.permutation(np.flatnonzero(self.bucket_of == b))
            plan += [(b, group) for group in self._pack(rows, predictions[rows], self.rows[b], self.token_budgets[b])]
        return examples, [plan[i] for i in rng.permutation(len(plan))]

    def _pack(self, rows: np.ndarray, counts: np.ndarray, size: int, budget: int) -> Iterator[np.ndarray]:
        start, tokens = 0, 0
        for i, count in enumerate(counts):
            if i - start == size or tokens + count > budget:
                yield rows[start:i]
                start, tokens = i, 0
            tokens += count
        if start < len(rows):
            yield rows[start:]

    def _build(self, examples: Examples, bucket: int, rows: np.ndarray) -> TrainBatch:
        length, budget = self.buckets[bucket], self.token_budgets[bucket]
        chosen = examples.inputs.take(rows)
        index = value_index(examples.inputs, rows)
        row_of, column = chosen.row_ids(), positions_in_rows(chosen.lengths)
        inputs = left_aligned(chosen, length, self.rows[bucket])
        predict = examples.predict[index]
        count = int(predict.sum())
        token_index = np.zeros(budget, dtype=np.int32)
        token_target = np.zeros(budget, dtype=np.int32)
        token_weight = np.zeros(budget, dtype=np.float32)
        token_index[:count] = (row_of * length + column)[predict]
        token_target[:count] = examples.targets[index][predict]
        token_weight[:count] = 1.0
        catalogue = None if self.catalogue_size is None else np.full(len(inputs), self.catalogue_size, np.int32)
        if self._input_times is not None:
            times = relative_times(self._input_times.take(rows), length, self.rows[bucket])
            return TrainBatch(TimedItems(inputs, times), token_index, token_target, token_weight, catalogue)
        return TrainBatch(inputs, token_index, token_target, token_weight, catalogue)
