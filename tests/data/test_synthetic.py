"""`dynint.data.synthetic`: drifting users whose ground truth the tests can check."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dynint.data.interactions import PADDING_TOKEN
from dynint.data.synthetic import SyntheticConfig, generate_drifting_interactions
from dynint.errors import ConfigError

SMALL = SyntheticConfig(num_users=300, num_items=200, num_clusters=8)


def _same_user_as_previous(user: np.ndarray) -> np.ndarray:
    return user[1:] == user[:-1]


def test_same_seed_gives_identical_data() -> None:
    (a, truth_a), (b, truth_b) = generate_drifting_interactions(SMALL), generate_drifting_interactions(SMALL)
    for name in ("user", "item", "timestamp", "user_ids", "item_ids"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(truth_a.event_cluster, truth_b.event_cluster)
    np.testing.assert_array_equal(truth_a.item_cluster, truth_b.item_cluster)
    np.testing.assert_array_equal(a.item_features.tokens["genres"].values, b.item_features.tokens["genres"].values)


def test_different_seeds_give_different_data() -> None:
    a, _ = generate_drifting_interactions(SMALL)
    b, _ = generate_drifting_interactions(replace(SMALL, seed=1))
    assert len(a) != len(b) or not np.array_equal(a.item, b.item)


def test_events_are_chronological_with_strictly_increasing_times_per_user() -> None:
    interactions, _ = generate_drifting_interactions(SMALL)
    np.testing.assert_array_equal(interactions.chronological_order(), np.arange(len(interactions)))
    assert (np.diff(interactions.timestamp)[_same_user_as_previous(interactions.user)] > 0).all()
    assert interactions.has_timestamps and interactions.rating is None


def test_sequence_lengths_follow_the_config() -> None:
    config = replace(SMALL, num_users=3000, sequence_length=20, min_length=4, max_length=25)
    interactions, _ = generate_drifting_interactions(config)
    lengths = np.bincount(interactions.user, minlength=config.num_users)
    assert lengths.min() >= 4 and lengths.max() <= 25
    assert lengths.mean() == pytest.approx(20, abs=0.5)


def test_measured_drift_rate_matches_the_config() -> None:
    config = SyntheticConfig(num_users=5000, num_clusters=10, drift_rate=0.3, seed=3)
    interactions, truth = generate_drifting_interactions(config)
    steps = (np.diff(truth.event_cluster) % config.num_clusters)[_same_user_as_previous(interactions.user)]
    assert (steps != 0).mean() == pytest.approx(0.3, abs=0.01)
    # Drift moves to a neighbouring cluster on the ring, which is what makes it learnable.
    assert set(np.unique(steps).tolist()) == {0, 1, config.num_clusters - 1}


def test_items_come_from_the_current_cluster_unless_noise() -> None:
    config = replace(SMALL, noise=0.2)
    interactions, truth = generate_drifting_interactions(config)
    in_cluster = truth.item_cluster[interactions.item] == truth.event_cluster
    assert in_cluster[~truth.event_is_noise].all()
    assert truth.event_is_noise.mean() == pytest.approx(0.2, abs=0.02)


def test_item_truth_is_indexed_by_internal_item_id_when_some_items_are_never_drawn() -> None:
    config = SyntheticConfig(num_users=3, num_items=500, num_clusters=5, noise=0.0)
    interactions, truth = generate_drifting_interactions(config)
    assert interactions.num_items < 500
    assert len(truth.item_cluster) == interactions.num_items + 1 and truth.item_cluster[0] == -1
    np.testing.assert_array_equal(truth.item_cluster[interactions.item], truth.event_cluster)


def test_current_cluster_oracle_is_far_above_popularity_on_the_last_event() -> None:
    interactions, truth = generate_drifting_interactions(SyntheticConfig())
    last = np.flatnonzero(np.append(interactions.user[1:] != interactions.user[:-1], True))
    history = np.ones(len(interactions), dtype=bool)
    history[last] = False
    popularity = np.bincount(interactions.item[history], minlength=interactions.num_items + 1)
    global_top = np.argmax(popularity)
    cluster_top = np.array(
        [np.flatnonzero(truth.item_cluster == c)[np.argmax(popularity[truth.item_cluster == c])] for c in range(20)]
    )
    targets = interactions.item[last]
    oracle_hit_rate = (cluster_top[truth.event_cluster[last]] == targets).mean()
    popularity_hit_rate = (targets == global_top).mean()
    assert oracle_hit_rate > 0.1
    assert oracle_hit_rate > 5 * popularity_hit_rate


def test_genres_are_a_noisy_view_of_the_clusters() -> None:
    config = replace(SMALL, num_items=4000, genre_accuracy=0.8)
    interactions, truth = generate_drifting_interactions(config)
    genres = interactions.item_features.tokens["genres"]
    vocabulary = interactions.item_features.vocabularies["genres"]
    assert vocabulary[0] == PADDING_TOKEN and len(vocabulary) == config.num_clusters + 1
    assert len(genres) == interactions.num_items + 1 and len(genres[0]) == 0
    first_genre = genres.values[genres.offsets[1:-1]] - 1
    agreement = (first_genre == truth.item_cluster[1:]).mean()
    assert agreement == pytest.approx(0.8 + 0.2 / config.num_clusters, abs=0.03)
    assert set(genres.lengths[1:].tolist()) <= {1, 2}


def _word_counts(descriptions: list[str]) -> np.ndarray:
    """`(items, words)` counts of each word in each description."""
    vocabulary = {word: i for i, word in enumerate(sorted({w for text in descriptions for w in text.split()}))}
    counts = np.zeros((len(descriptions), len(vocabulary)))
    for row, text in enumerate(descriptions):
        for word in text.split():
            counts[row, vocabulary[word]] += 1
    return counts


def _nearest_neighbour_cluster_accuracy(descriptions: list[str], clusters: np.ndarray) -> float:
    """How often an item's most TF-IDF-cosine-similar other item is of its own cluster."""
    counts = _word_counts(descriptions)
    tfidf = counts * np.log(len(counts) / np.maximum((counts > 0).sum(axis=0), 1))
    unit = tfidf / np.maximum(np.linalg.norm(tfidf, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    return float((clusters[similarity.argmax(axis=1)] == clusters).mean())


def test_text_settings_leave_the_events_and_genres_unchanged() -> None:
    plain, _ = generate_drifting_interactions(replace(SMALL, text_words=0))
    for informativeness in (0.0, 0.7):
        texted, _ = generate_drifting_interactions(replace(SMALL, text_informativeness=informativeness))
        for name in ("user", "item", "timestamp", "item_ids"):
            np.testing.assert_array_equal(getattr(plain, name), getattr(texted, name))
        for part in ("values", "offsets"):
            np.testing.assert_array_equal(
                getattr(plain.item_features.tokens["genres"], part),
                getattr(texted.item_features.tokens["genres"], part),
            )
    assert plain.item_features.text == {}


def test_text_is_deterministic_for_a_seed_and_changes_with_it() -> None:
    first, second = generate_drifting_interactions(SMALL)[0], generate_drifting_interactions(SMALL)[0]
    other = generate_drifting_interactions(replace(SMALL, seed=1))[0]
    assert first.item_features.text == second.item_features.text
    assert first.item_features.text["description"] != other.item_features.text["description"]


def test_fully_informative_text_uses_only_its_clusters_vocabulary() -> None:
    config = replace(SMALL, text_informativeness=1.0, text_words=10, cluster_vocabulary=15)
    interactions, truth = generate_drifting_interactions(config)
    descriptions = interactions.item_features.text["description"]
    assert descriptions[0] == "" and all(len(text.split()) == 10 for text in descriptions[1:])
    words_of = [
        set().union(*(descriptions[i].split() for i in np.flatnonzero(truth.item_cluster == c))) for c in range(8)
    ]
    assert all(len(words) <= 15 for words in words_of)
    assert all(not words_of[a] & words_of[b] for a in range(8) for b in range(a))
    assert _nearest_neighbour_cluster_accuracy(descriptions[1:], truth.item_cluster[1:]) > 0.95


def test_uninformative_text_tells_nothing_about_the_cluster() -> None:
    config = replace(SMALL, num_items=1000, text_informativeness=0.0)
    interactions, truth = generate_drifting_interactions(config)
    accuracy = _nearest_neighbour_cluster_accuracy(
        interactions.item_features.text["description"][1:], truth.item_cluster[1:]
    )
    # Chance is 1/8 = 0.125; with about 1000 items its standard error is about 0.01.
    assert accuracy == pytest.approx(1 / 8, abs=0.04)


def test_partly_informative_text_sits_between_chance_and_certainty() -> None:
    config = replace(SMALL, num_items=1000, text_informativeness=0.3)
    interactions, truth = generate_drifting_interactions(config)
    accuracy = _nearest_neighbour_cluster_accuracy(
        interactions.item_features.text["description"][1:], truth.item_cluster[1:]
    )
    assert 0.3 < accuracy < 0.95


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("num_items", 5),
        ("drift_rate", 1.5),
        ("sequence_length", 2),
        ("noise", -0.1),
        ("max_length", 10),
        ("text_informativeness", 1.5),
        ("text_words", -1),
        ("cluster_vocabulary", 0),
    ],
)
def test_config_rejects_bad_values_naming_the_key(key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=key):
        replace(SyntheticConfig(), **{key: value})
