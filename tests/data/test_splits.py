"""Leakage properties of `dynint.data.splits`, on real data and on random small logs.

Each user's reference sequence is rebuilt here in plain python (sorted by time, ties by source
position). A split row that equals a prefix of it, or the event right after that prefix, pins
down exactly which events (user, position, time) a model sees and which it must predict.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dynint.config.schema import SplitConfig
from dynint.data.interactions import PADDING_TOKEN, Interactions
from dynint.data.loading import make_split
from dynint.data.splits import Split, cold_item_split, leave_one_out_split, temporal_split
from dynint.errors import ConfigError


def reference_sequences(interactions: Interactions) -> tuple[list[list[int]], list[list[float]]]:
    """Per user, items and times in chronological order (ties kept in source order)."""
    users, items, times = interactions.user.tolist(), interactions.item.tolist(), interactions.timestamp.tolist()
    order = sorted(range(len(users)), key=lambda e: (users[e], times[e], e))
    item_rows: list[list[int]] = [[] for _ in range(interactions.num_users)]
    time_rows: list[list[float]] = [[] for _ in range(interactions.num_users)]
    for e in order:
        item_rows[users[e]].append(items[e])
        time_rows[users[e]].append(times[e])
    return item_rows, time_rows


def assert_leave_one_out_invariants(interactions: Interactions, split: Split) -> None:
    """Train = all but the last two events; validation predicts the second to last from exactly the
    training sequence; test predicts the last from the training sequence plus the validation target."""
    items, times = reference_sequences(interactions)
    evaluated = [u for u, seq in enumerate(items) if len(seq) >= 3]
    np.testing.assert_array_equal(split.valid.users, evaluated)
    np.testing.assert_array_equal(split.test.users, evaluated)
    assert len(split.train) == len(split.test_visible) == interactions.num_users
    assert split.visible("valid") is split.train
    for u, seq in enumerate(items):
        kept = len(seq) - 2 if len(seq) >= 3 else len(seq)
        assert split.train[u].tolist() == seq[:kept]
        assert split.train_timestamps[u].tolist() == times[u][:kept]
        assert split.visible("test")[u].tolist() == seq[: max(kept, len(seq) - 1)]
    for row, u in enumerate(evaluated):
        seq, ts, train = items[u], times[u], split.train[u].tolist()
        assert (split.valid.targets[row], split.valid.timestamps[row]) == (seq[-2], ts[-2])
        assert (split.test.targets[row], split.test.timestamps[row]) == (seq[-1], ts[-1])
        assert split.valid.histories[row].tolist() == train
        assert split.test.histories[row].tolist() == train + [seq[-2]]
        assert max(ts[:-2]) <= ts[-2] <= ts[-1]
    assert len(split.train.values) + 2 * len(evaluated) == len(interactions)


def assert_temporal_invariants(interactions: Interactions, split: Split) -> None:
    """Training is every event before one global cut, test-visible every event before a later cut;
    each window's target is a user's first event after the cut, with all earlier events as history."""
    items, times = reference_sequences(interactions)
    n_train, n_visible = split.train.lengths, split.test_visible.lengths
    for u, seq in enumerate(items):
        assert split.train[u].tolist() == seq[: n_train[u]]
        assert split.train_timestamps[u].tolist() == times[u][: n_train[u]]
        assert split.test_visible[u].tolist() == seq[: n_visible[u]]
        assert n_train[u] <= n_visible[u]
    assert split.visible("valid") is split.train

    def before_and_after(cut: np.ndarray) -> tuple[list[float], list[float]]:
        return (
            [t for u, ts in enumerate(times) for t in ts[: cut[u]]],
            [t for u, ts in enumerate(times) for t in ts[cut[u] :]],
        )

    train_times, later_times = before_and_after(n_train)
    visible_times, test_window_times = before_and_after(n_visible)
    valid_start = min(later_times, default=np.inf)
    test_start = min(test_window_times, default=np.inf)
    assert max(train_times, default=-np.inf) < valid_start
    assert max(visible_times, default=-np.inf) < test_start

    valid_users = [u for u in range(len(items)) if n_train[u] < n_visible[u]]
    np.testing.assert_array_equal(split.valid.users, valid_users)
    for row, u in enumerate(valid_users):
        assert split.valid.histories[row].tolist() == items[u][: n_train[u]]
        assert split.valid.targets[row] == items[u][n_train[u]]
        assert valid_start <= split.valid.timestamps[row] == times[u][n_train[u]] < test_start
    test_users = [u for u in range(len(items)) if n_visible[u] < len(items[u])]
    np.testing.assert_array_equal(split.test.users, test_users)
    for row, u in enumerate(test_users):
        assert split.test.histories[row].tolist() == items[u][: n_visible[u]]
        assert split.test.targets[row] == items[u][n_visible[u]]
        assert test_start <= split.test.timestamps[row] == times[u][n_visible[u]]


def assert_cold_item_invariants(interactions: Interactions, split: Split, fraction: float) -> None:
    """Training is every warm event; test-visible every event but those on test-cold items; each
    stage's target is a user's first event on one of its cold items that has a visible event
    before it, with exactly the visible events before it as history. Test-cold items occur only
    as test targets, validation-cold items never in training."""
    items, times = reference_sequences(interactions)
    valid_cold, test_cold = set(split.cold_items["valid"].tolist()), set(split.cold_items["test"].tolist())
    expected_size = round(fraction * interactions.num_items)
    assert len(valid_cold) == len(test_cold) == expected_size and not valid_cold & test_cold
    assert valid_cold | test_cold <= set(range(1, interactions.num_items + 1))
    assert split.visible("valid") is split.train and split.visible("test") is split.test_visible
    assert len(split.train) == len(split.test_visible) == interactions.num_users
    for u, seq in enumerate(items):
        warm = [(i, t) for i, t in zip(seq, times[u], strict=True) if i not in valid_cold | test_cold]
        known = [(i, t) for i, t in zip(seq, times[u], strict=True) if i not in test_cold]
        assert split.train[u].tolist() == [i for i, _ in warm]
        assert split.train_timestamps[u].tolist() == [t for _, t in warm]
        assert split.test_visible[u].tolist() == [i for i, _ in known]
        assert split.test_visible_timestamps[u].tolist() == [t for _, t in known]

    for stage, cold, hidden in (("valid", valid_cold, valid_cold | test_cold), ("test", test_cold, test_cold)):
        expected = {}
        for u, seq in enumerate(items):
            for p, item in enumerate(seq):
                history = [i for i in seq[:p] if i not in hidden]
                if item in cold and history:
                    expected[u] = (item, times[u][p], history, max(times[u][:p]))
                    break
        rows = split.eval_set(stage)
        np.testing.assert_array_equal(rows.users, sorted(expected))
        for row, u in enumerate(rows.users):
            target, time, history, latest_seen = expected[u]
            assert (rows.targets[row], rows.timestamps[row]) == (target, time)
            assert rows.histories[row].tolist() == history
            assert latest_seen <= time
    seen_in_training = set(split.train.values.tolist())
    assert not seen_in_training & (valid_cold | test_cold)
    assert not set(split.test_visible.values.tolist()) & test_cold
    for rows in (split.valid, split.test):
        assert not set(rows.histories.values.tolist()) & test_cold
    assert not set(split.valid.histories.values.tolist()) & valid_cold
    assert set(split.valid.targets.tolist()) <= valid_cold and set(split.test.targets.tolist()) <= test_cold


def test_cold_items_on_ml100k_have_no_leakage(ml100k: Interactions) -> None:
    split = cold_item_split(ml100k, cold_item_fraction=0.1, seed=0)
    assert split.kind == "cold-items"
    assert_cold_item_invariants(ml100k, split, 0.1)
    # Nearly every user meets a cold item at each stage.
    assert len(split.valid) > 0.9 * ml100k.num_users and len(split.test) > 0.9 * ml100k.num_users


def test_cold_items_are_deterministic_for_a_seed_and_change_with_it(ml100k: Interactions) -> None:
    first, again, other = (cold_item_split(ml100k, 0.1, seed) for seed in (0, 0, 1))
    for stage in ("valid", "test"):
        np.testing.assert_array_equal(first.cold_items[stage], again.cold_items[stage])
        np.testing.assert_array_equal(first.eval_set(stage).targets, again.eval_set(stage).targets)
        assert not np.array_equal(first.cold_items[stage], other.cold_items[stage])
    np.testing.assert_array_equal(first.train.values, again.train.values)


def test_make_split_builds_the_configured_cold_item_split(ml100k: Interactions) -> None:
    split = make_split(ml100k, SplitConfig(kind="cold-items", cold_item_fraction=0.2, cold_item_seed=3))
    np.testing.assert_array_equal(split.cold_items["test"], cold_item_split(ml100k, 0.2, 3).cold_items["test"])
    assert len(split.cold_items["valid"]) == round(0.2 * ml100k.num_items)
    assert leave_one_out_split(ml100k).cold_items == {}


def test_cold_item_fraction_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"split\.cold_item_fraction=0\.5"):
        SplitConfig(kind="cold-items", cold_item_fraction=0.5)
    log = _log([0, 0, 0], [1, 2, 3], [0, 1, 2], num_users=1, num_items=3)
    with pytest.raises(ValueError, match="gives 0 cold items per stage"):
        cold_item_split(log, cold_item_fraction=0.1)
    with pytest.raises(ValueError, match=r"expected a number in \(0, 0\.5\)"):
        cold_item_split(log, cold_item_fraction=0.0)


def test_leave_one_out_on_beauty_has_no_leakage(beauty: Interactions) -> None:
    assert_leave_one_out_invariants(beauty, leave_one_out_split(beauty))


def test_leave_one_out_on_beauty_evaluates_every_five_core_user(beauty: Interactions) -> None:
    split = leave_one_out_split(beauty)
    assert len(split.test) == len(split.valid) == beauty.num_users == 22363


def test_leave_one_out_on_ml100k_has_no_leakage(ml100k: Interactions) -> None:
    assert_leave_one_out_invariants(ml100k, leave_one_out_split(ml100k))


def test_temporal_split_on_ml100k_has_no_leakage(ml100k: Interactions) -> None:
    split = temporal_split(ml100k, valid_fraction=0.1, test_fraction=0.1)
    assert_temporal_invariants(ml100k, split)
    assert len(split.train.values) == pytest.approx(0.8 * len(ml100k), abs=0.01 * len(ml100k))
    assert len(split.test_visible.values) == pytest.approx(0.9 * len(ml100k), abs=0.01 * len(ml100k))


def test_split_stages_are_checked() -> None:
    split = leave_one_out_split(_log([0, 0, 0], [1, 2, 3], [0, 1, 2], num_users=1, num_items=3))
    with pytest.raises(ValueError, match="unknown stage"):
        split.visible("train")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown stage"):
        split.eval_set("train")  # type: ignore[arg-type]


def test_temporal_split_rejects_bad_fractions_and_empty_logs() -> None:
    log = _log([0, 0, 0], [1, 2, 3], [0, 1, 2], num_users=1, num_items=3)
    with pytest.raises(ValueError, match="valid_fraction"):
        temporal_split(log, valid_fraction=0.6, test_fraction=0.5)
    with pytest.raises(ValueError, match="no events"):
        temporal_split(log.select(np.zeros(3, dtype=bool)))


def test_temporal_split_handles_users_without_events_at_the_end() -> None:
    log = _log([0, 0, 0, 1, 1, 1], [1, 2, 3, 1, 2, 3], [0, 1, 2, 3, 4, 5], num_users=4, num_items=3)
    split = temporal_split(log, valid_fraction=0.2, test_fraction=0.2)
    assert split.train.lengths.tolist() == [3, 0, 0, 0]
    assert split.test_visible.lengths.tolist() == [3, 1, 0, 0]
    assert_temporal_invariants(log, split)


def _log(user, item, timestamp, *, num_users: int, num_items: int) -> Interactions:
    return Interactions(
        user=np.asarray(user, dtype=np.int64),
        item=np.asarray(item, dtype=np.int64),
        timestamp=np.asarray(timestamp, dtype=np.float64),
        rating=None,
        user_ids=np.array([f"u{u}" for u in range(num_users)]),
        item_ids=np.array([PADDING_TOKEN] + [f"i{i}" for i in range(1, num_items + 1)]),
    )


@st.composite
def interaction_logs(draw: st.DrawFn, max_time: int = 12) -> Interactions:
    """Small logs with repeated items, tied timestamps and users that have no events at all."""
    num_users, num_items = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    events = draw(
        st.lists(
            st.tuples(st.integers(0, num_users - 1), st.integers(1, num_items), st.integers(0, max_time)), max_size=40
        )
    )
    user, item, timestamp = zip(*events, strict=True) if events else ((), (), ())
    return _log(user, item, timestamp, num_users=num_users, num_items=num_items)


_PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY_SETTINGS
@given(interaction_logs())
def test_leave_one_out_has_no_leakage_on_random_logs(log: Interactions) -> None:
    assert_leave_one_out_invariants(log, leave_one_out_split(log))


@_PROPERTY_SETTINGS
@given(interaction_logs(max_time=40), st.sampled_from([(0.1, 0.1), (0.2, 0.3), (0.4, 0.2)]))
def test_temporal_split_has_no_leakage_on_random_logs(log: Interactions, fractions: tuple[float, float]) -> None:
    assume(len(log) > 0)
    try:
        split = temporal_split(log, *fractions)
    except ValueError as error:
        assert "same time" in str(error)
        assume(False)
    assert_temporal_invariants(log, split)


@_PROPERTY_SETTINGS
@given(interaction_logs(), st.sampled_from([0.2, 0.3, 0.4]), st.integers(0, 3))
def test_cold_items_have_no_leakage_on_random_logs(log: Interactions, fraction: float, seed: int) -> None:
    try:
        split = cold_item_split(log, fraction, seed)
    except ValueError as error:
        assert "cold items per stage" in str(error)
        assume(False)
    assert_cold_item_invariants(log, split, fraction)


@pytest.mark.parametrize("kind", ["leave-one-out", "temporal", "cold-items"])
def test_visible_timestamps_are_the_times_of_the_visible_events(kind: str) -> None:
    log = _log([0, 0, 0, 0, 1, 1, 1], [1, 2, 3, 4, 2, 3, 1], [0, 1, 2, 3, 4, 5, 6], num_users=2, num_items=4)
    split = make_split(log, SplitConfig(kind=kind, valid_fraction=0.3, test_fraction=0.3, cold_item_fraction=0.25))
    times_of = {(int(u), int(i)): t for u, i, t in zip(log.user, log.item, log.timestamp, strict=True)}
    for stage in ("valid", "test"):
        visible, stamps = split.visible(stage), split.visible_timestamps(stage)
        assert stamps is not None and (stamps.lengths == visible.lengths).all()
        for u in range(2):
            assert stamps[u].tolist() == [times_of[(u, int(i))] for i in visible[u]]
    assert split.all_timestamps is not None and (split.all_timestamps.lengths == split.all_events.lengths).all()


def test_the_training_catalogue_leaves_out_the_items_held_out_of_each_stage(ml100k: Interactions) -> None:
    split = cold_item_split(ml100k, cold_item_fraction=0.1, seed=0)
    before_valid, before_test = split.training_catalogue("valid"), split.training_catalogue("test")
    assert not np.isin(split.cold_items["valid"], before_valid).any()
    assert not np.isin(split.cold_items["test"], before_valid).any()
    assert not np.isin(split.cold_items["test"], before_test).any()
    assert np.isin(split.cold_items["valid"], before_test).all()
    # Every training input and target, and every event visible at test, is in its stage's catalogue.
    assert np.isin(split.train.values, before_valid).all()
    assert np.isin(split.visible("test").values, before_test).all()
    assert leave_one_out_split(ml100k).training_catalogue("valid") is None
