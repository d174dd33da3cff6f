"""The privacy unit of DP-SGD: what one clipped example holds.

User level (the default) clips each user's whole training sequence as one example. Example
level makes every next-item prediction its own example: one row per target event, holding the
target and the up to `max_length` events before it, its loss on that target alone. The
guarantee then covers one prediction. An event is the target of one example and an input of
up to `max_length` later ones, so per event it holds only for a group of that many examples
(group privacy), which the results say where they name the unit.
"""

from __future__ import annotations

import numpy as np

from dynint.data.ragged import Ragged
from dynint.train.windows import positions_in_rows


def prediction_rows(sequences: Ragged, max_length: int) -> tuple[Ragged, np.ndarray]:
    """One row per next-item target of `sequences` (every event but a user's first): the target
    and up to `max_length` events before it; and each row's `loss_from` (its last position), so
    the loss counts that target only (`SequenceBatcher(loss_from=...)`)."""
    if max_length < 1:
        raise ValueError(f"max_length={max_length}: expected at least 1")
    position = positions_in_rows(sequences.lengths)
    targets = np.flatnonzero(position > 0)  # indices into sequences.values
    lengths = np.minimum(position[targets], max_length) + 1
    starts = targets + 1 - lengths
    values = sequences.values[np.repeat(starts, lengths) + positions_in_rows(lengths)]
    return Ragged.from_lengths(values, lengths), lengths - 1
