"""Recency weighting of a user's history, so that neighbourhood and content baselines follow
drifting interests: an event's weight halves every `half_life` events (or time units) back
from the user's latest event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from baselines.base import FitData
from dynint.data.ragged import Ragged
from dynint.errors import ConfigError


@dataclass(frozen=True)
class RecencyConfig:
    """`kind="position"`: weight `0.5 ** (events after this one / half_life)`; `kind="time"`:
    `0.5 ** ((latest time - this time) / half_life)`, in the data's time unit (seconds for Unix
    times); `kind="none"`: every event weighs the same."""

    kind: Literal["none", "position", "time"] = "position"
    half_life: float = 2.0

    def __post_init__(self) -> None:
        if self.kind not in ("none", "position", "time"):
            raise ConfigError(f"recency.kind={self.kind!r}: expected 'none', 'position' or 'time'")
        if not self.half_life > 0:
            raise ConfigError(f"recency.half_life={self.half_life!r}: expected a positive number")


class HistoryWeights:
    """Turns histories into a sparse `(rows, items)` matrix of recency weights.

    Each non-empty row sums to 1, so a score built from it is a weighted mean over the history
    and comparable across users of different history lengths. Repeated items add up.

    Time decay reads each history's timestamps from the fit data: history row `r` must be a
    prefix of user `users[r]`'s fitted sequence, as every evaluation history is (the events
    visible at the stage being evaluated).
    """

    def __init__(self, config: RecencyConfig, data: FitData):
        self.config = config
        if config.kind == "time" and data.timestamps is None:
            raise ValueError(
                "recency.kind='time' needs event timestamps but the fit data has none; "
                "use recency.kind='position' (the S3-Rec files, for one, record only the order)"
            )
        self._sequences = data.sequences
        self._timestamps = data.timestamps

    def matrix(self, users: np.ndarray, histories: Ragged, num_columns: int) -> sp.csr_matrix:
        weights = self.event_weights(users, histories)
        return sp.csr_matrix((weights, (histories.row_ids(), histories.values)), shape=(len(histories), num_columns))

    def event_weights(self, users: np.ndarray, histories: Ragged) -> np.ndarray:
        """Each history event's weight (aligned with `histories.values`); each row's sum to 1."""
        row_ids = histories.row_ids()
        if self.config.kind == "none":
            weights = np.ones(len(row_ids))
        else:
            weights = np.exp2(-self._ages(np.asarray(users), histories) / self.config.half_life)
        totals = np.bincount(row_ids, weights=weights, minlength=len(histories))
        return weights / totals[row_ids]

    def _ages(self, users: np.ndarray, histories: Ragged) -> np.ndarray:
        """Per history event, how far it lies before its row's latest event (in events or time)."""
        lengths = histories.lengths
        last_position = np.repeat(histories.offsets[1:] - 1, lengths)
        if self.config.kind == "position":
            return (last_position - np.arange(len(histories.values))).astype(np.float64)
        if len(users) != len(histories):
            raise ValueError(f"got {len(users)} users for {len(histories)} histories")
        fitted = self._sequences
        too_long = np.flatnonzero(lengths > fitted.lengths[users])
        offset_in_row = np.arange(len(histories.values)) - np.repeat(histories.offsets[:-1], lengths)
        index = np.repeat(fitted.offsets[users], lengths) + offset_in_row
        if len(too_long) or not np.array_equal(fitted.values[index], histories.values):
            row = too_long[0] if len(too_long) else histories.row_ids()[fitted.values[index] != histories.values][0]
            raise ValueError(
                f"recency.kind='time': history row {row} is not a prefix of user {users[row]}'s fitted "
                "sequence, so its timestamps are unknown"
            )
        times = self._timestamps.values[index]
        return times[last_position] - times
