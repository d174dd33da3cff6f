"""Synthetic users whose interests drift between item clusters, with the ground truth kept.

Each item belongs to one cluster; clusters sit on a ring. A user starts in a random cluster and
before each later event moves to a neighbouring cluster with probability `drift_rate`, so drift
is structured and a sequence model can learn it while a popularity ranking cannot. Items are
drawn from the current cluster with Zipf popularity (or, with probability `noise`, uniformly).
Items carry noisy genres and a text description whose words come from their cluster's
vocabulary at rate `text_informativeness`, the rest from words every cluster shares.
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

    Item text (`description`, `text_words` words; 0 gives no text field): each word comes from
    the item's cluster's `cluster_vocabulary` words with probability `text_informativeness`,
    else from `shared_vocabulary` words used by every cluster, so at 1 the text tells the cluster
    and at 0 nothing. The text has its own random stream: the events and genres of a seed do not
    depend on the text settings, and for a seed a word's draws do not depend on the rate.
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
    text_words: int = 12
    text_informativeness: float = 0.5
    cluster_vocabulary: int = 30
    shared_vocabulary: int = 300
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
            ("text_words", self.text_words >= 0, ">= 0"),
            ("text_informativeness", 0.0 <= self.text_informativeness <= 1.0, "in [0, 1]"),
            ("cluster_vocabulary", self.cluster_vocabulary >= 1, ">= 1"),
            ("shared_vocabulary", self.shared_vocabulary >= 1, ">= 1"),
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
    if config.text_words:
        raw_text = _cluster_text(config, raw_item_cluster)
        text = [""] + [raw_text[i] for i in interactions.item_ids[1:].astype(np.int64) - 1]
        features = replace(features, text={"description": text})
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


# The text's random stream is seeded by (seed, _TEXT_STREAM), the events' by seed alone.
_TEXT_STREAM = 1
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


def _cluster_text(config: SyntheticConfig, raw_item_cluster: np.ndarray) -> list[str]:
    """A description per raw item (0-based id): `text_words` words, each its cluster's with
    probability `text_informativeness`, else a shared one."""
    rng = np.random.default_rng((config.seed, _TEXT_STREAM))
    shape = (len(raw_item_cluster), config.text_words)
    # Every draw happens whatever the rate, so a word changes only where its coin flip does.
    informative = rng.random(shape) < config.text_informativeness
    cluster_word = raw_item_cluster[:, None] * config.cluster_vocabulary + rng.integers(
        config.cluster_vocabulary, size=shape
    )
    shared_word = config.num_clusters * config.cluster_vocabulary + rng.integers(config.shared_vocabulary, size=shape)
    words = np.where(informative, cluster_word, shared_word)
    # Shuffled spellings, so that a cluster's words do not share their first syllables.
    spellings = rng.permutation(config.num_clusters * config.cluster_vocabulary + config.shared_vocabulary)
    vocabulary = [_pseudo_word(int(i)) for i in spellings]
    return [" ".join(vocabulary[w] for w in row) for row in words]


def _pseudo_word(index: int) -> str:
    """A pronounceable made-up word, distinct per non-negative index: the consonant-vowel syllables
    of `index + 70` written in base 70, so every word has two syllables at least ("beba", "bebe")."""
    syllables = [c + v for c in _CONSONANTS for v in _VOWELS]
    number, word = index + len(syllables), ""
    while number:
        number, digit = divmod(number, len(syllables))
        word = syllables[digit] + word
    return word
