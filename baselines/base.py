"""The baseline interface: fit on visible interactions, score users' histories against items."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from dynint.data.interactions import ItemFeatures
from dynint.data.ragged import Ragged


@dataclass(frozen=True)
class FitData:
    """What a baseline may learn from at one evaluation stage (never that stage's answers).

    `sequences[u]` is user `u`'s visible items in time order.
    """

    sequences: Ragged
    num_users: int
    num_items: int
    item_features: ItemFeatures | None = None


class Baseline(abc.ABC):
    """A non-neural recommender. Subclasses set `protocols` and implement `fit` and `score`."""

    protocols: ClassVar[frozenset[str]] = frozenset({"full", "sampled"})

    def __init__(self, config: Any):
        self.config = config

    @abc.abstractmethod
    def fit(self, data: FitData) -> Baseline:
        """Learn from `data`; returns self."""

    @abc.abstractmethod
    def score(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        """Scores of shape `(len(users), len(items))`: higher means recommended earlier."""
