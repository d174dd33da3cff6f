"""CTR samples from the real ml-100k split: no leakage, negatives the user never saw, and
determinism by seed; tiny arrays pin down the sampling helpers."""

from __future__ import annotations

import numpy as np
import pytest

from dynint.config import parse_config
from dynint.data.ctr_samples import (
    build_ctr_data,
    build_ctr_samples,
    sample_other_items,
    sample_unseen_items,
    token_table,
)
from dynint.data.prepared import prepare_data
from dynint.data.ragged import Ragged

MAX_LENGTH = 20
NEGATIVES = 2


@pytest.fixture(scope="module")
def prepared(shared_data):
    config = parse_config(
        {"name": "ctr", "data": {"name": "ml-100k", "data_dir": str(shared_data)}, "model": {"name": "sasrec"}}
    )
    return prepare_data(config)


@pytest.fixture(scope="module")
def split(prepared):
    return prepared.split


@pytest.fixture(scope="module")
def data(prepared):
    return build_ctr_data(
        prepared.split,
        prepared.interactions.item_features,
        max_length=MAX_LENGTH,
        negatives_per_positive=NEGATIVES,
        seed=0,
    )


def _grouped(samples, field):
    """A sample field as `(positives, 1 + NEGATIVES, ...)`: each positive with its negatives."""
    values = getattr(samples, field)
    return values.reshape(-1, 1 + NEGATIVES, *values.shape[1:])


def _rows_as_sets(ragged: Ragged) -> list[set[int]]:
    return [set(row.tolist()) for row in ragged]


@pytest.mark.parametrize("stage", ["train", "valid", "test"])
def test_each_positive_is_followed_by_its_negatives_with_the_same_history(data, stage):
    samples = data.stage(stage)
    labels = _grouped(samples, "labels")
    assert np.all(labels[:, 0] == 1) and np.all(labels[:, 1:] == 0)
    assert samples.labels.mean() == pytest.approx(1 / (1 + NEGATIVES))
    for field in ("users", "histories", "history_negatives"):
        grouped = _grouped(samples, field)
        assert np.array_equal(grouped, np.repeat(grouped[:, :1], 1 + NEGATIVES, axis=1))


def test_training_has_one_positive_per_prefix_with_the_truncated_prefix_as_history(data, split):
    users, histories = _grouped(data.train, "users")[:, 0], _grouped(data.train, "histories")[:, 0]
    targets = _grouped(data.train, "targets")[:, 0]
    assert len(targets) == np.sum(np.maximum(split.train.lengths - 1, 0))
    for row in np.random.default_rng(0).choice(len(targets), 300, replace=False):
        sequence = split.train[users[row]]
        t = row - np.searchsorted(users, users[row]) + 1  # a user's prefixes are consecutive, from t = 1
        expected = sequence[max(0, t - MAX_LENGTH) : t]
        assert targets[row] == sequence[t]
        assert np.array_equal(histories[row, : len(expected)], expected)
        assert np.all(histories[row, len(expected) :] == 0)


@pytest.mark.parametrize("stage", ["valid", "test"])
def test_evaluation_positives_and_histories_are_exactly_the_splits(data, split, stage):
    rows = split.eval_set(stage)
    assert np.array_equal(_grouped(data.stage(stage), "targets")[:, 0], rows.targets)
    assert np.array_equal(_grouped(data.stage(stage), "users")[:, 0], rows.users)
    assert np.array_equal(
        _grouped(data.stage(stage), "histories")[:, 0], rows.histories.to_padded(MAX_LENGTH, align="left")
    )


def test_training_negatives_are_never_in_the_users_training_sequence(data, split):
    seen = _rows_as_sets(split.train)
    users, targets = _grouped(data.train, "users")[:, 1:], _grouped(data.train, "targets")[:, 1:]
    assert not any(item in seen[user] for user, item in zip(users.ravel(), targets.ravel(), strict=True))
    assert targets.min() >= 1 and targets.max() <= split.num_items


@pytest.mark.parametrize("stage", ["valid", "test"])
def test_evaluation_negatives_avoid_the_full_history_and_the_target(data, split, stage):
    rows = split.eval_set(stage)
    forbidden = [seen | {int(target)} for seen, target in zip(_rows_as_sets(rows.histories), rows.targets, strict=True)]
    negatives = _grouped(data.stage(stage), "targets")[:, 1:]
    assert not any(item in forbidden[row] for row in range(len(rows)) for item in negatives[row])


def test_no_held_out_item_reaches_a_users_training_targets_or_histories(data, split):
    positives = _grouped(data.train, "targets")[:, 0]
    users = _grouped(data.train, "users")[:, 0]
    histories = _grouped(data.train, "histories")[:, 0]
    training = _rows_as_sets(split.train)
    held_out = {user: set() for user in range(split.num_users)}
    for stage in ("valid", "test"):
        for user, item in zip(split.eval_set(stage).users, split.eval_set(stage).targets, strict=True):
            held_out[user].add(int(item))
    assert all(not (held_out[user] & training[user]) for user in held_out)  # ml-100k has no repeated items
    for user, target, history in zip(users, positives, histories, strict=True):
        inputs = {int(target), *history[history != 0].tolist()}
        assert inputs <= training[user] and not (inputs & held_out[user])


def test_history_negatives_differ_from_the_behaviour_at_their_position(data, split):
    for samples in (data.train, data.valid, data.test):
        real = samples.histories != 0
        assert np.all(samples.history_negatives[~real] == 0)
        assert np.all(samples.history_negatives[real] != samples.histories[real])
        assert samples.history_negatives[real].min() >= 1 and samples.history_negatives.max() <= split.num_items


def test_the_same_seed_gives_identical_samples_and_another_seed_other_negatives(data, split):
    again = build_ctr_samples(split, "valid", max_length=MAX_LENGTH, negatives_per_positive=NEGATIVES, seed=0)
    other = build_ctr_samples(split, "valid", max_length=MAX_LENGTH, negatives_per_positive=NEGATIVES, seed=1)
    for field in ("users", "histories", "targets", "labels", "history_negatives"):
        assert np.array_equal(getattr(again, field), getattr(data.valid, field))
    assert np.array_equal(other.targets[other.labels == 1], data.valid.targets[data.valid.labels == 1])
    assert np.mean(other.targets[other.labels == 0] != data.valid.targets[data.valid.labels == 0]) > 0.9
    assert not np.array_equal(other.history_negatives, data.valid.history_negatives)


def test_item_token_tables_hold_each_items_features(data, prepared):
    features = prepared.interactions.item_features
    assert set(data.item_tokens) == set(features.tokens) == {"class", "release_year"}
    for name, table in data.item_tokens.items():
        assert table.shape[0] == data.num_items + 1 and np.all(table[0] == 0)
        assert data.feature_sizes[name] == len(features.vocabularies[name])
        for item in (1, 50, data.num_items):
            tokens = features.tokens[name][item]
            assert np.array_equal(table[item, : len(tokens)], tokens) and np.all(table[item, len(tokens) :] == 0)


def test_a_batch_looks_up_the_tokens_of_every_item(data):
    batch = data.batch("train", np.arange(5))
    table = data.item_tokens["class"]
    assert batch.history_tokens["class"].shape == (5, MAX_LENGTH, table.shape[1])
    assert np.array_equal(batch.target_tokens["class"], table[batch.targets])
    assert np.array_equal(batch.negative_tokens["class"], table[batch.history_negatives])


def test_sample_unseen_items_avoids_each_groups_items_and_fails_when_none_is_left():
    forbidden = Ragged.from_rows([[1, 2, 3], [4], []])
    groups = np.repeat(np.arange(3), 200)
    items = sample_unseen_items(np.random.default_rng(0), groups, forbidden, num_items=5)
    assert set(items[:200]) == {4, 5} and set(items[200:400]) == {1, 2, 3, 5} and set(items[400:]) == {1, 2, 3, 4, 5}
    with pytest.raises(ValueError, match="every item"):
        sample_unseen_items(np.random.default_rng(0), np.array([0]), Ragged.from_rows([[1, 2]]), num_items=2)


def test_sample_other_items_is_uniform_over_the_other_items():
    items = np.full(40_000, 3)
    draws = sample_other_items(np.random.default_rng(0), items, num_items=5)
    counts = np.bincount(draws, minlength=6)
    assert counts[0] == 0 and counts[3] == 0
    assert np.allclose(counts[[1, 2, 4, 5]] / len(items), 0.25, atol=0.01)


def test_token_table_pads_and_truncates_rows():
    rows = Ragged.from_rows([[], [4, 2, 7], [1]])
    assert np.array_equal(token_table(rows), [[0, 0, 0], [4, 2, 7], [1, 0, 0]])
    assert np.array_equal(token_table(rows, max_tokens=2), [[0, 0], [4, 2], [1, 0]])
