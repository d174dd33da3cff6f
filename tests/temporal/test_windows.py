import numpy as np
import pytest

from dynint.data.interactions import Interactions
from dynint.data.registry import load_dataset
from dynint.errors import ConfigError
from dynint.temporal.config import TemporalConfig
from dynint.temporal.windows import temporal_stream


@pytest.fixture(scope="module")
def ml100k(shared_data) -> Interactions:
    return load_dataset("ml-100k", shared_data)


@pytest.fixture(scope="module")
def stream(ml100k):
    return temporal_stream(ml100k, TemporalConfig(num_windows=10, cut="events"))


def _raw_events(interactions: Interactions):
    """Each event as (user, raw item id, timestamp), in the log's chronological per-user order."""
    order = interactions.chronological_order()
    return interactions.user[order], interactions.item_ids[interactions.item[order]], interactions.timestamp[order]


def test_each_window_is_scored_only_on_its_own_events_with_every_earlier_event_as_history(ml100k, stream):
    users, raw_items, times = _raw_events(ml100k)
    for window in (0, 4, 9):
        low, high = stream.starts[window], stream.starts[window + 1]
        eval_set = stream.eval_set(window)
        assert np.all((eval_set.timestamps >= low) & (eval_set.timestamps < high))
        # Rebuilt from the raw log: one row per window event that has an earlier event of its user,
        # its history being exactly that user's earlier events (raw ids, so the renumbering is checked too).
        in_window = np.flatnonzero((times >= low) & (times < high))
        rows_expected = [e for e in in_window if e > 0 and users[e - 1] == users[e]]
        assert len(eval_set) == len(rows_expected)
        for row in np.random.default_rng(window).choice(len(eval_set), size=50, replace=False):
            event = rows_expected[row]
            first = np.searchsorted(users, users[event])
            assert eval_set.users[row] == users[event]
            assert stream.interactions.item_ids[eval_set.targets[row]] == raw_items[event]
            np.testing.assert_array_equal(stream.interactions.item_ids[eval_set.histories[row]], raw_items[first:event])


def test_nothing_of_a_window_or_later_is_visible_before_it_is_scored(ml100k, stream):
    window = 5
    visible, visible_times = stream.visible_before(window)
    assert visible_times.values.max() < stream.starts[window]
    assert len(visible.values) == np.count_nonzero(ml100k.timestamp < stream.starts[window])
    # Rewriting every event from the window on (other items, same times) changes nothing the
    # model is fitted on before the window, nor any evaluation row of the windows before it.
    later = ml100k.timestamp >= stream.starts[window]
    rng = np.random.default_rng(0)
    shuffled_items = ml100k.item.copy()
    shuffled_items[later] = rng.integers(1, ml100k.num_items + 1, size=int(later.sum()))
    rewritten = temporal_stream(
        Interactions(
            ml100k.user,
            shuffled_items,
            ml100k.timestamp,
            ml100k.rating,
            ml100k.user_ids,
            ml100k.item_ids,
            source="rewritten",
        ),
        TemporalConfig(num_windows=10, cut="events"),
    )
    np.testing.assert_array_equal(rewritten.starts, stream.starts)
    again, _ = rewritten.visible_before(window)
    np.testing.assert_array_equal(
        rewritten.interactions.item_ids[again.values], stream.interactions.item_ids[visible.values]
    )
    for earlier in range(window):
        a, b = stream.eval_set(earlier), rewritten.eval_set(earlier)
        np.testing.assert_array_equal(a.users, b.users)
        np.testing.assert_array_equal(
            stream.interactions.item_ids[a.targets], rewritten.interactions.item_ids[b.targets]
        )
        np.testing.assert_array_equal(
            stream.interactions.item_ids[a.histories.values], rewritten.interactions.item_ids[b.histories.values]
        )


def test_items_are_numbered_by_first_appearance_so_each_catalogue_is_a_prefix(stream):
    sizes = [stream.catalogue_size(w) for w in range(stream.num_windows)]
    assert sizes == sorted(sizes) and sizes[-1] == stream.interactions.num_items
    for window in range(1, stream.num_windows):
        visible, _ = stream.visible_before(window)
        assert visible.values.max() <= sizes[window - 1]
        assert stream.eval_set(window).targets.max() <= sizes[window]
        assert stream.eval_set(window).targets.max() > sizes[window - 1]  # new items are scored at once
    first_seen = np.full(stream.interactions.num_items + 1, np.inf)
    np.minimum.at(first_seen, stream.sequences.values, stream.times.values)
    assert np.all(np.diff(first_seen[1:]) >= 0)


def test_windows_cut_by_events_hold_about_equal_counts_and_by_time_equal_spans(ml100k, stream):
    counts = np.bincount(stream.window, minlength=10)
    assert counts.min() > 0.95 * len(ml100k) / 10 and counts.max() < 1.05 * len(ml100k) / 10
    by_time = temporal_stream(ml100k, TemporalConfig(num_windows=4, cut="time"))
    spans = np.diff(by_time.starts[:-1])
    np.testing.assert_allclose(spans, spans[0])
    assert by_time.starts[0] == ml100k.timestamp.min()


def test_a_log_without_timestamps_or_too_many_windows_is_refused_with_the_reason(shared_data, ml100k):
    beauty = load_dataset("amazon-beauty", shared_data)
    with pytest.raises(ConfigError, match="amazon-beauty.*needs event timestamps"):
        temporal_stream(beauty, TemporalConfig())
    same_time = Interactions.from_raw_ids([1, 2, 3, 1], [1, 2, 3, 2], np.array([5.0, 5.0, 5.0, 6.0]), source="tiny")
    with pytest.raises(ConfigError, match="tiny: temporal.num_windows=3 .* leaves window \\d empty"):
        temporal_stream(same_time, TemporalConfig(num_windows=3, cut="events"))
    with pytest.raises(ConfigError, match="temporal.num_windows=1"):
        TemporalConfig(num_windows=1)


def test_a_windows_latest_events_are_held_out_after_the_time_they_begin_at(stream):
    window = 4
    cut, valid = stream.latest_events(window, 0.1)
    in_window = stream.window == window
    held_out = in_window & (stream.times.values >= cut)
    assert stream.starts[window] < cut < stream.starts[window + 1]
    assert 0.1 <= held_out.sum() / in_window.sum() < 0.12  # ties at the cut stay together
    assert np.all(valid.timestamps >= cut) and len(valid) <= held_out.sum()
    # Training before the cut sees none of them; everything before the window is there.
    before, times = stream.events_between(-np.inf, cut)
    assert times.values.max() < cut
    assert len(before.values) == np.count_nonzero(stream.times.values < cut)
    since, _ = stream.events_between(stream.starts[window], cut)
    assert len(since.values) == np.count_nonzero(in_window) - held_out.sum()
    np.testing.assert_array_equal(
        stream.events_between(-np.inf, stream.starts[window])[0].values, stream.visible_before(window)[0].values
    )
