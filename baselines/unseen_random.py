"""UnseenRandom: items no visible event mentions first, in a random order drawn per user.

Under item cold start every target is an item without visible events, so this ranker needs no
model at all to find them more often than chance over the whole catalogue: it is the floor a
cold-start model must clear to show that it learned something from item content.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from baselines.base import Baseline, FitData
from dynint.data.ragged import Ragged


@dataclass(frozen=True)
class UnseenRandomConfig:
    """`seed` fixes each user's random order of the unseen items (and of the seen ones after them)."""

    name: str = "unseen-random"
    seed: int = 0


class UnseenRandom(Baseline):
    """Score 1 + u for an item with no visible event and u for the others, u ~ U[0, 1) drawn per
    (user, item) from `seed` and the user id, so the order differs between users (one shared random
    top-10 would make the metric hinge on which few items it happened to hold)."""

    def fit(self, data: FitData) -> UnseenRandom:
        counts = np.bincount(data.sequences.values, minlength=data.num_items + 1)
        self.unseen = np.where(counts == 0, 1.0, 0.0)
        self.unseen[0] = -2.0  # the padding item last
        return self

    def score(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        items = np.asarray(items)
        return np.stack([self.unseen[items] + self._jitter(user)[items] for user in np.asarray(users)])

    def score_pairs(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        return np.array([self.unseen[item] + self._jitter(user)[item] for user, item in zip(users, items, strict=True)])

    def _jitter(self, user: int) -> np.ndarray:
        return np.random.default_rng([self.config.seed, int(user)]).random(len(self.unseen))
