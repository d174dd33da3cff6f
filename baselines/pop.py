"""PopRec: rank items by how often they occur in the visible interactions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from baselines.base import Baseline, FitData
from dynint.data.ragged import Ragged


@dataclass(frozen=True)
class PopRecConfig:
    name: str = "poprec"


class PopRec(Baseline):
    """Item popularity counted over the events visible at the stage being evaluated.

    At validation that is the training events; at test, training plus validation events.
    Equal counts are ordered by item id (lower first) by the ranking protocol's tie rule.
    """

    def fit(self, data: FitData) -> PopRec:
        self.counts = np.bincount(data.sequences.values, minlength=data.num_items + 1).astype(np.float64)
        self.counts[0] = 0.0
        return self

    def score(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts[items], (len(users), len(items)))

    def score_pairs(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        return self.counts[items]
