"""`dynint.data.stats`: hand-computed statistics of a tiny log."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from dynint.data.interactions import Interactions
from dynint.data.splits import leave_one_out_split
from dynint.data.stats import dataset_statistics

DAY = 86_400.0


def _tiny() -> Interactions:
    """Users a, b, c with 1, 2 and 3 events over items x, y, z; times span two days."""
    return Interactions.from_raw_ids(
        ["a", "b", "b", "c", "c", "c"],
        ["x", "x", "y", "x", "y", "z"],
        np.array([0.0, 1.0, 2.0, 3.0, DAY, 2 * DAY]) + 1_000_000,
        source="tiny",
    )


def test_counts_lengths_and_density() -> None:
    stats = dataset_statistics(_tiny())
    assert (stats["users"], stats["items"], stats["interactions"]) == (3, 3, 6)
    assert stats["sequence_length"] == {"mean": 2.0, "median": 2.0, "min": 1, "max": 3}
    assert stats["density"] == pytest.approx(6 / 9)
    assert stats["has_ratings"] is False and "split" not in stats


def test_time_span_in_days() -> None:
    stats = dataset_statistics(_tiny())
    assert (stats["first_timestamp"], stats["last_timestamp"]) == (1_000_000.0, 1_000_000.0 + 2 * DAY)
    assert stats["time_span_days"] == pytest.approx(2.0)


def test_order_only_sources_have_no_time_span_and_say_why() -> None:
    stats = dataset_statistics(replace(_tiny(), has_timestamps=False))
    assert stats["first_timestamp"] is stats["last_timestamp"] is stats["time_span_days"] is None
    assert "order only" in stats["time_note"]


def test_split_sizes() -> None:
    interactions = _tiny()
    stats = dataset_statistics(interactions, leave_one_out_split(interactions))
    # Only user c has >= 3 events: it gives one validation and one test row and one training event.
    assert stats["split"] == {
        "kind": "leave-one-out",
        "train_events": 4,
        "validation_rows": 1,
        "test_rows": 1,
        "users_evaluated": 1,
    }


def test_counts_ignore_users_and_items_left_without_events() -> None:
    interactions = _tiny()
    stats = dataset_statistics(interactions.select(interactions.item != 3))
    assert (stats["users"], stats["items"], stats["interactions"]) == (3, 2, 5)


def test_statistics_are_json_serialisable() -> None:
    interactions = replace(_tiny(), rating=np.ones(6, dtype=np.float32))
    stats = dataset_statistics(interactions, leave_one_out_split(interactions))
    assert json.loads(json.dumps(stats)) == stats
    assert stats["has_ratings"] is True


def test_empty_log_has_null_statistics() -> None:
    interactions = _tiny()
    stats = dataset_statistics(interactions.select(np.zeros(6, dtype=bool)))
    assert stats["interactions"] == 0 and stats["density"] is None and stats["time_span_days"] is None
    json.dumps(stats)
