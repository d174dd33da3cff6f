"""Synthetic users whose interests drift between item clusters, with the ground truth kept.

Each item belongs to one cluster; clusters sit on a ring. A user starts in a random cluster and
before each later event moves to a neighbouring cluster with probability `drift_rate`, so drift
is structured and a sequence model can learn it while a popularity ranking cannot. Items are
drawn from the current cluster with Zipf popularity (or, with probability `noise`, uniformly).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dynint.data.interactions import PADDING_TOKEN, Interactions, ItemFeatures
from dynint.data.ragged import Ragged
from dynint.errors import ConfigError

_START_TIME = 1_600_000_000.0
_SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class SyntheticConfig:
    """Shape of the synthetic data set; `sequence_length` is the mean per-user event count.

    Lengths are `min_length + Poisson(sequence_length - min_length)`, capped at `max_length`
    when it is set. `genre_accuracy` is how often an item's first genre is its true cluster.
    """

    num_users: int = 2000
    num_items: int = 1000
    num_clusters: int = 20
    drift_rate: float = 0.15
    sequence_length: int = 30
    min_length: int = 5
    max_length: int | None = None
    popularity_skew: float = 1.0
    noise: float = 0.05
    genre_accuracy: float = 0.8
    mean_gap_days: float = 1.0
    start_window_days: float = 180.0
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [
            ("num_users", self.num_users >= 1, ">= 1"),
            ("num_clusters", self.num_clusters >= 1, ">= 1"),
            ("num_items", self.num_items >= self.num_clusters, f">= num_clusters ({self.num_clusters})"),
            ("drift_rate", 0.0 <= self.drift_rate <= 1.0, "in [0, 1]"),
            ("min_length", self.min_length >= 1, ">= 1"),
            ("sequence_length", self.sequence_length >= self.min_length, f">= min_length ({self.min_length})"),
            (
                "max_length",
                self.max_length is None or self.max_length >= self.sequence_length,
                f"None or >= sequence_length ({self.sequence_length})",
            ),
            ("popularity_skew", self.popularity_skew >= 0.0, ">= 0"),
            ("noise", 0.0 <= self.noise <= 1.0, "in [0, 1]"),
            ("genre_accuracy", 0.0 <= self.genre_accuracy <= 1.0, "in [0, 1]"),
            ("mean_gap_days", self.mean_gap_days > 0.0, "> 0"),
            ("start_window_days", self.start_window_days >= 0.0, ">= 0"),
        ]
        for key, ok, expected in checks:
            if not ok:
                raise ConfigError(f"synthetic.{key}={getattr(self, key)!r}: expected {expected}")


@dataclass(frozen=True)
class SyntheticTruth:
    """What generated the data: `event_cluster[e]` is the user's interest cluster at event `e`
    (aligned with the returned `Interactions`), `event_is_noise[e]` whether the item was drawn
    uniformly instead, and `item_cluster[i]` the cluster of internal item `i` (-1 for padding)."""

    event_cluster: np.ndarray
    event_is_noise: np.ndarray
    item_cluster: np.ndarray
    num_clusters: int


def generate_drifting_interactions(config: SyntheticConfig) -> tuple[Interactions, SyntheticTruth]:
    """Sample a chronologically ordered log of drifting users and its ground truth."""
    rng = np.random.default_rng(config.seed)
    raw_item_cluster = rng.permutation(np.arange(config.num_items) % config.num_clusters)

    lengths = config.min_length + rng.poisson(config.sequence_length - config.min_length, size=config.num_users)
    if config.max_length is not None:
        lengths = np.minimum(lengths, config.max_length)
    user = np.repeat(np.arange(config.num_users), lengths)
    first_event = np.concatenate([[0], np.cumsum(lengths)[:-1]])  # every user has >= min_length >= 1 events

    # Interest: a random start cluster, then +-1 steps around the ring of clusters at rate `drift_rate`.
    moves = np.where(rng.random(len(user)) < config.drift_rate, rng.choice([-1, 1], size=len(user)), 0)
    moves[first_event] = rng.integers(config.num_clusters, size=config.num_users)
    event_cluster = _cumsum_per_user(moves, first_event, lengths) % config.num_clusters
    raw_item, is_noise = _draw_items(rng, config, raw_item_cluster, event_cluster)

    # Whole-second gaps of >= 1 s so times strictly increase per user; users start at random points
    # of a shared window, so events of different users interleave and a global temporal split works.
    gaps = 1.0 + np.floor(rng.exponential(config.mean_gap_days * _SECONDS_PER_DAY, size=len(user)))
    gaps[first_event] = np.floor(rng.uniform(0.0, config.start_window_days * _SECONDS_PER_DAY, size=config.num_users))
    timestamp = _START_TIME + _cumsum_per_user(gaps, first_event, lengths)

    interactions = Interactions.from_raw_ids(user, raw_item + 1, timestamp, source="synthetic")
    item_cluster = np.concatenate([[-1], raw_item_cluster[interactions.item_ids[1:].astype(np.int64) - 1]])
    features = _noisy_genres(rng, config, item_cluster)
    truth = SyntheticTruth(event_cluster, is_noise, item_cluster, config.num_clusters)
    return replace(interactions, item_features=features), truth


def _cumsum_per_user(steps: np.ndarray, first_event: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Running sum of `steps` that restarts at each user's first event."""
    total = np.cumsum(steps)
    return total - np.repeat(total[first_event] - steps[first_event], lengths)


def _draw_items(
    rng: np.random.Generator, config: SyntheticConfig, raw_item_cluster: np.ndarray, event_cluster: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Zipf-within-cluster draws (0-based raw item ids), replaced by uniform draws at rate `noise`."""
    members = [np.flatnonzero(raw_item_cluster == c) for c in range(config.num_clusters)]
    width = max(len(m) for m in members)
    table = np.full((config.num_clusters, width), -1, dtype=np.int64)
    cdf = np.ones((config.num_clusters, width))
    for c, items in enumerate(members):
        # Random popularity ranks inside each cluster, so item id says nothing about popularity.
        table[c, : len(items)] = rng.permutation(items)
        weights = np.arange(1, len(items) + 1, dtype=np.float64) ** -config.popularity_skew
        cdf[c, : len(items)] = np.cumsum(weights) / weights.sum()
    draws = rng.random(len(event_cluster))
    rank = (cdf[event_cluster] < draws[:, None]).sum(axis=1)
    rank = np.minimum(rank, np.array([len(m) - 1 for m in members])[event_cluster])
    item = table[event_cluster, rank]
    is_noise = rng.random(len(event_cluster)) < config.noise
    item[is_noise] = rng.integers(config.num_items, size=int(is_noise.sum()))
    return item, is_noise


def _noisy_genres(rng: np.random.Generator, config: SyntheticConfig, item_cluster: np.ndarray) -> ItemFeatures:
    """A `genres` token feature: the true cluster with probability `genre_accuracy` (else a random
    one), plus one random extra genre. Token 0 is padding, genre `g` is token `g + 1`."""
    real = item_cluster[1:]
    first = np.where(
        rng.random(len(real)) < config.genre_accuracy, real, rng.integers(config.num_clusters, size=len(real))
    )
    extra = rng.integers(config.num_clusters, size=len(real))
    rows = [np.zeros(0, dtype=np.int64)] + [
        np.array([a + 1] if a == b else [a + 1, b + 1], dtype=np.int64) for a, b in zip(first, extra, strict=True)
    ]
    vocabulary = np.array([PADDING_TOKEN] + [f"genre_{g:02d}" for g in range(config.num_clusters)])
    return ItemFeatures(tokens={"genres": Ragged.from_rows(rows)}, vocabularies={"genres": vocabulary})
