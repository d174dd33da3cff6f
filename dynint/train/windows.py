"""Index helpers for the ragged per-user sequences models read windows of."""

from __future__ import annotations

import numpy as np

from dynint.data.ragged import Ragged


def positions_in_rows(lengths: np.ndarray) -> np.ndarray:
    """`0, 1, ..., n_0 - 1, 0, 1, ..., n_1 - 1, ...` for row lengths `n_i`."""
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(int(lengths.sum())) - starts


def value_index(rows: Ragged, selected: np.ndarray) -> np.ndarray:
    """Indices into `rows.values` of the values of rows `selected`, in order (what `rows.take` gathers)."""
    lengths = rows.lengths[selected]
    return np.repeat(rows.offsets[selected], lengths) + positions_in_rows(lengths)


def last_items(rows: Ragged, count: int) -> Ragged:
    """Each row's last `count` values (all of a shorter row)."""
    lengths = np.minimum(rows.lengths, count)
    index = np.repeat(rows.offsets[1:] - lengths, lengths) + positions_in_rows(lengths)
    return Ragged.from_lengths(rows.values[index], lengths)


def left_aligned(rows: Ragged, length: int, num_rows: int | None = None) -> np.ndarray:
    """`(num_rows, length)` int32 array with row `i` starting with `rows[i]` and padded with 0 (rows must fit)."""
    out = np.zeros((len(rows) if num_rows is None else num_rows, length), dtype=np.int32)
    out[rows.row_ids(), positions_in_rows(rows.lengths)] = rows.values
    return out


def relative_times(rows: Ragged, length: int, num_rows: int | None = None) -> np.ndarray:
    """`(num_rows, length)` int32 array of each row's times (seconds) minus its first, left-aligned
    like `left_aligned` and padded with 0: what a model reading event times takes (`TimedItems`).
    Rows hold times in event order, so the values are non-negative gaps, exact in int32."""
    firsts = rows.values[np.repeat(rows.offsets[:-1], rows.lengths)]
    gaps = np.rint(rows.values - firsts).astype(np.int64)
    if len(gaps) and (gaps.min() < 0 or gaps.max() > np.iinfo(np.int32).max):
        raise ValueError(
            f"event times must be in order within a row and span under 2^31 s; gaps {gaps.min()} to {gaps.max()}"
        )
    return left_aligned(Ragged.from_lengths(gaps, rows.lengths), length, num_rows)
