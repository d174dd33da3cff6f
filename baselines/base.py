"""The baseline interface: fit on visible interactions, score users' histories against items."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from dynint.data.interactions import ItemFeatures
from dynint.data.ragged import Ragged
from dynint.data.splits import Split, Stage

# Rows scored at once by the default `score_pairs`, bounding its (rows x distinct items) block.
_PAIR_ROWS = 512


@dataclass(frozen=True)
class FitData:
    """What a baseline may learn from at one evaluation stage (never that stage's answers).

    `sequences[u]` is user `u`'s visible items in time order; `timestamps[u]` (where known)
    their times, event for event.
    """

    sequences: Ragged
    num_users: int
    num_items: int
    item_features: ItemFeatures | None = None
    timestamps: Ragged | None = None

    @classmethod
    def for_stage(
        cls, split: Split, stage: Stage, item_features: ItemFeatures | None = None, *, leaky: bool = False
    ) -> FitData:
        """The events visible before evaluating `stage` (`split.visible(stage)`).

        `leaky=True` hands over every event, the stage's answers included; it exists only for
        `split.fit_on_all_interactions`, which reproduces published numbers computed that way.
        """
        if leaky:
            sequences, timestamps = split.all_events, split.all_timestamps
        else:
            sequences, timestamps = split.visible(stage), split.visible_timestamps(stage)
        return cls(sequences, split.num_users, split.num_items, item_features, timestamps)


class Baseline(abc.ABC):
    """A non-neural recommender. Subclasses implement `fit` and `score`.

    `protocols` names the evaluation protocols it supports: "full" and "sampled" ranking
    (through `score`) and "ctr" (through `score_pairs`). The default `score_pairs` derives
    from `score`, so every baseline supports all three unless it says otherwise.
    """

    protocols: ClassVar[frozenset[str]] = frozenset({"full", "sampled", "ctr"})

    def __init__(self, config: Any):
        self.config = config

    @abc.abstractmethod
    def fit(self, data: FitData) -> Baseline:
        """Learn from `data`; returns self."""

    @abc.abstractmethod
    def score(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        """Scores of shape `(len(users), len(items))`: higher means recommended earlier."""

    def read_history_times_from(self, data: FitData) -> None:
        """Where recency weighting by time looks up the times of a history's events (by default
        the fit data, which every static-split history is a prefix of). The streaming protocol
        points it at every event up to the end of the window being scored, whose histories run
        past the fitted events; only the times of a history's own events are read."""
        from baselines.recency import HistoryWeights

        for name, value in list(vars(self).items()):
            if isinstance(value, HistoryWeights):
                setattr(self, name, HistoryWeights(value.config, data))

    def score_pairs(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        """Score of each (user, item) pair: `items[r]` for `users[r]` having seen `histories[r]`.

        Returns shape `(len(items),)`, equal to `score(users, histories, items)[r, r]` row by row.
        This default scores each block of rows against the block's distinct items; subclasses
        override it where a pair can be scored directly.
        """
        users, items = np.asarray(users), np.asarray(items)
        if items.shape != users.shape or len(histories) != len(users):
            raise ValueError(
                f"score_pairs needs one user, history and item per pair; got {len(users)} users, "
                f"{len(histories)} histories and items of shape {items.shape}"
            )
        scores = np.empty(len(items), dtype=np.float64)
        for start in range(0, len(items), _PAIR_ROWS):
            rows = np.arange(start, min(start + _PAIR_ROWS, len(items)))
            distinct, column = np.unique(items[rows], return_inverse=True)
            block = np.asarray(self.score(users[rows], histories.take(rows), distinct))
            scores[rows] = block[np.arange(len(rows)), column.reshape(-1)]
        return scores
