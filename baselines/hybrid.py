"""Hybrid: a weighted sum of item-CF, content and popularity scores.

Each component's score is on a fixed [0, 1]-like scale that does not depend on which items are
being scored (so chunked full ranking and pair scoring agree): ItemKNN's is a weighted mean
similarity, the content score a cosine, popularity the item's count over the largest count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from baselines.base import Baseline, FitData
from baselines.content import ContentBased, ContentConfig
from baselines.itemknn import ItemKNN, ItemKNNConfig
from baselines.pop import PopRec, PopRecConfig
from dynint.data.ragged import Ragged
from dynint.errors import ConfigError


@dataclass(frozen=True)
class HybridConfig:
    """Fusion weights (components with weight 0 are not fitted) and each component's config."""

    name: str = "hybrid"
    itemknn_weight: float = 1.0
    content_weight: float = 0.1
    popularity_weight: float = 0.01
    itemknn: ItemKNNConfig = field(default_factory=ItemKNNConfig)
    content: ContentConfig = field(default_factory=ContentConfig)

    def __post_init__(self) -> None:
        weights = (self.itemknn_weight, self.content_weight, self.popularity_weight)
        if min(weights) < 0 or max(weights) == 0:
            raise ConfigError(
                f"itemknn_weight, content_weight, popularity_weight = {weights}: "
                "expected numbers >= 0, at least one of them positive"
            )


class Hybrid(Baseline):
    def fit(self, data: FitData) -> Hybrid:
        config = self.config
        parts = [
            (config.itemknn_weight, ItemKNN(config.itemknn)),
            (config.content_weight, ContentBased(config.content)),
            (config.popularity_weight, PopRec(PopRecConfig())),
        ]
        self.components: list[tuple[float, Baseline]] = []
        for weight, model in parts:
            if weight > 0:
                model.fit(data)
                if isinstance(model, PopRec):  # counts -> share of the largest count
                    weight = weight / max(model.counts.max(), 1.0)
                self.components.append((weight, model))
        return self

    def read_history_times_from(self, data: FitData) -> None:
        for _, model in self.components:
            model.read_history_times_from(data)

    def score(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        return sum(weight * model.score(users, histories, items) for weight, model in self.components)

    def score_pairs(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        return sum(weight * model.score_pairs(users, histories, items) for weight, model in self.components)
