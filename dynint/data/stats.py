"""Summary statistics of a data set (and optionally a split) as plain JSON-serialisable values."""

from __future__ import annotations

from typing import Any

import numpy as np

from dynint.data.interactions import Interactions
from dynint.data.splits import Split

_SECONDS_PER_DAY = 86_400.0


def dataset_statistics(interactions: Interactions, split: Split | None = None) -> dict[str, Any]:
    """Users, items and events counted over users and items that have at least one event, with
    sequence lengths, density, time span and, given a `split`, the size of each part."""
    lengths = np.bincount(interactions.user, minlength=interactions.num_users)
    lengths = lengths[lengths > 0]
    users, items, events = len(lengths), len(np.unique(interactions.item)), len(interactions)
    stats: dict[str, Any] = {
        "source": interactions.source,
        "users": users,
        "items": items,
        "interactions": events,
        "sequence_length": {
            "mean": float(lengths.mean()) if users else None,
            "median": float(np.median(lengths)) if users else None,
            "min": int(lengths.min()) if users else None,
            "max": int(lengths.max()) if users else None,
        },
        "density": events / (users * items) if users and items else None,
        "has_timestamps": interactions.has_timestamps,
        "first_timestamp": None,
        "last_timestamp": None,
        "time_span_days": None,
        "has_ratings": interactions.rating is not None,
    }
    if not interactions.has_timestamps:
        stats["time_note"] = "the source gives event order only, no timestamps"
    elif events:
        first, last = float(interactions.timestamp.min()), float(interactions.timestamp.max())
        stats.update(first_timestamp=first, last_timestamp=last, time_span_days=(last - first) / _SECONDS_PER_DAY)
    if split is not None:
        stats["split"] = {
            "kind": split.kind,
            "train_events": len(split.train.values),
            "validation_rows": len(split.valid),
            "test_rows": len(split.test),
            "users_evaluated": len(np.union1d(split.valid.users, split.test.users)),
        }
    return stats
