"""A ragged array: many variable-length integer rows stored as one flat array plus offsets."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ragged:
    """Rows `values[offsets[i]:offsets[i + 1]]`; `offsets` has `len(self) + 1` entries."""

    values: np.ndarray
    offsets: np.ndarray

    def __post_init__(self) -> None:
        if self.offsets.ndim != 1 or len(self.offsets) == 0 or self.offsets[0] != 0:
            raise ValueError("offsets must be a 1-D array starting at 0")
        if self.offsets[-1] != len(self.values):
            raise ValueError(f"offsets end at {self.offsets[-1]} but there are {len(self.values)} values")

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[int]] | Sequence[np.ndarray], dtype=np.int64) -> Ragged:
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        values = np.concatenate([np.asarray(r, dtype=dtype) for r in rows]) if len(rows) else np.zeros(0, dtype)
        return cls(values.astype(dtype, copy=False), offsets)

    @classmethod
    def from_lengths(cls, values: np.ndarray, lengths: np.ndarray) -> Ragged:
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(np.asarray(values), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> np.ndarray:
        return self.values[self.offsets[index] : self.offsets[index + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row_ids(self) -> np.ndarray:
        """The row index of every value (same length as `values`)."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.lengths)

    def take(self, rows: np.ndarray) -> Ragged:
        """The sub-ragged array made of `rows`, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.lengths[rows]
        starts = self.offsets[rows]
        index = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())
        return Ragged.from_lengths(self.values[index], lengths)

    def to_padded(self, max_length: int, pad_value: int = 0, align: str = "right") -> np.ndarray:
        """Dense `(rows, max_length)` array keeping each row's last `max_length` values.

        `align="right"` puts the most recent value in the last column (as sequence models expect).
        """
        if align not in ("right", "left"):
            raise ValueError(f"align={align!r}: expected 'right' or 'left'")
        out = np.full((len(self), max_length), pad_value, dtype=self.values.dtype)
        lengths = np.minimum(self.lengths, max_length)
        for i in range(len(self)):
            n = lengths[i]
            if n == 0:
                continue
            row = self.values[self.offsets[i + 1] - n : self.offsets[i + 1]]
            if align == "right":
                out[i, max_length - n :] = row
            else:
                out[i, :n] = row
        return out
