"""Training batches of semantic-id token streams: each user's latest items as tokens, every next
token a target."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dynint.data.ragged import Ragged
from dynint.generative.semantic_ids import SemanticIds
from dynint.train.windows import last_items, left_aligned


class TokenBatch(NamedTuple):
    inputs: np.ndarray  # (B, T) int32 tokens, left-aligned, 0 = padding
    targets: np.ndarray  # (B, T) the token after each input (0: none)


def history_tokens(histories: Ragged, ids: SemanticIds, max_items: int, width: int | None = None) -> np.ndarray:
    """`(len(histories), width)` int32: each history's last `max_items` items as tokens, oldest
    first, left-aligned and 0-padded (width: `max_items * depth` by default, more leaves room to
    generate)."""
    items = left_aligned(last_items(histories, max_items), max_items)
    tokens = ids.tokens(items).reshape(len(histories), max_items * ids.depth)  # padding items: 0 tokens, at the end
    width = max_items * ids.depth if width is None else width
    out = np.zeros((len(histories), width), dtype=np.int32)
    out[:, : min(width, tokens.shape[1])] = tokens[:, :width]
    return out


def sequence_windows(sequences: Ragged, size: int) -> list[np.ndarray]:
    """Every sequence of two or more items cut into windows of at most `size` items, each starting
    at the previous one's last item (the last window may be shorter, down to two items)."""
    windows = []
    for row in range(len(sequences)):
        sequence = sequences[row]
        for start in range(0, len(sequence) - 1, size - 1):
            windows.append(sequence[start : start + size])
    return windows


class TokenBatcher:
    """`EpochBatches` of the users' sequences as token streams: each sequence cut into consecutive
    windows of `max_items + 1` items that overlap by one item (so every item but a user's first is
    predicted once, from up to `max_items` items before it); rows shuffled per `(seed, epoch)` and
    cut into batches of `batch_size` (the last one filled with empty rows, which carry no target)."""

    def __init__(self, sequences: Ragged, ids: SemanticIds, max_items: int, batch_size: int):
        windows = sequence_windows(sequences, max_items + 1)
        if not windows:
            raise ValueError("no user has two or more training events to learn a next item from")
        streams = history_tokens(Ragged.from_rows(windows), ids, max_items + 1)
        self.inputs = streams[:, :-1]
        self.targets = streams[:, 1:]
        self.batch_size = batch_size

    def num_batches(self, seed: int, epoch: int) -> int:
        return -(-len(self.inputs) // self.batch_size)

    def epoch(self, seed: int, epoch: int) -> list[TokenBatch]:
        order = np.random.default_rng([seed, epoch]).permutation(len(self.inputs))
        order = np.concatenate([order, np.full(-len(order) % self.batch_size, -1)])
        batches = []
        for rows in order.reshape(-1, self.batch_size):
            real = rows >= 0
            inputs = np.zeros((self.batch_size, self.inputs.shape[1]), dtype=np.int32)
            targets = np.zeros_like(inputs)
            inputs[real], targets[real] = self.inputs[rows[real]], self.targets[rows[real]]
            batches.append(TokenBatch(inputs, targets))
        return batches

    def examples(self, batch: TokenBatch) -> float:
        return float(np.count_nonzero(batch.targets))
