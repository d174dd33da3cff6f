"""How fast a model's recommendations follow a user's switch of interest, on synthetic data
whose interest clusters are known.

A switch is an event whose interest cluster differs from the user's previous event's, after which
the user stays in the new cluster for at least `horizon` more events. Its evaluation rows are the
switch event and the `horizon` after it: row `k` is predicted from a history holding `k` events
of the new cluster. The lag is the first `k` at which at least half of the model's top 10 (seen
items excluded) lies in the new cluster, or `horizon + 1` when none does (censored).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dynint.data.interactions import Interactions
from dynint.data.synthetic import SyntheticTruth
from dynint.errors import ConfigError
from dynint.eval.scorer import Scorer, score_items
from dynint.temporal.windows import TemporalStream
from dynint.train.windows import positions_in_rows


@dataclass(frozen=True)
class Switches:
    """`first_event[s]` indexes `stream.sequences.values` (the first event in the new cluster),
    `cluster[s]` is that cluster, `user[s]` the user; `item_cluster[i]` is the cluster of stream
    item `i` and `horizon` the rows followed after each switch."""

    first_event: np.ndarray
    cluster: np.ndarray
    user: np.ndarray
    item_cluster: np.ndarray
    horizon: int

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every followed row: its event index, its switch and its `k` (new-cluster events before it)."""
        k = np.tile(np.arange(self.horizon + 1), len(self.first_event))
        switch = np.repeat(np.arange(len(self.first_event)), self.horizon + 1)
        return self.first_event[switch] + k, switch, k


def stream_switches(
    stream: TemporalStream, original: Interactions, truth: SyntheticTruth, *, horizon: int = 5
) -> Switches:
    """The switches of `stream` (built from the synthetic log `original` that `truth` generated)
    whose followed rows all lie in scored windows (window 1 on)."""
    if len(original) != len(truth.event_cluster):
        raise ConfigError(
            f"{original.source}: {len(original)} events, but the generator's truth has {len(truth.event_cluster)}; "
            "the switch lag needs the synthetic log unfiltered (data.min_user_interactions and "
            "data.min_item_interactions 0)"
        )
    order = original.chronological_order()
    event_cluster = truth.event_cluster[order]  # aligned with stream.sequences.values
    item_cluster = np.full(stream.interactions.num_items + 1, -1, dtype=np.int64)
    item_cluster[stream.interactions.item] = truth.item_cluster[original.item]
    position = positions_in_rows(stream.sequences.lengths)
    lengths = np.repeat(stream.sequences.lengths, stream.sequences.lengths)
    candidates = np.flatnonzero((position > 0) & (position + horizon < lengths) & (stream.window >= 1))
    candidates = candidates[event_cluster[candidates] != event_cluster[candidates - 1]]
    span = candidates[:, None] + np.arange(horizon + 1)
    stays = np.all(event_cluster[span] == event_cluster[candidates, None], axis=1)
    first = candidates[stays]
    return Switches(first, event_cluster[first], stream.sequences.row_ids()[first], item_cluster, horizon)


def top_k_share(
    scorer: Scorer,
    stream: TemporalStream,
    events: np.ndarray,
    clusters: np.ndarray,
    item_cluster: np.ndarray,
    catalogue: int,
    k: int = 10,
) -> np.ndarray:
    """For each event (index into `stream.sequences.values`), the share of the model's top `k`
    among items `1..catalogue` (seen items excluded; ties: lower id first) whose cluster
    (`item_cluster[i]`) is the event's `clusters` entry."""
    share = np.zeros(len(events))
    if len(events) == 0:
        return share
    rows = stream.rows_of(events)
    items = np.arange(1, catalogue + 1)
    scores = score_items(scorer, rows.users, rows.histories, items).astype(np.float64)
    seen_rows = rows.histories.row_ids()
    scores[seen_rows, rows.histories.values - 1] = -np.inf
    # Highest score first, ties by lower id: a stable sort of the negated scores.
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k] + 1
    return np.mean(item_cluster[top] == clusters[:, None], axis=1)


def lags(switches: Switches, shares: np.ndarray) -> np.ndarray:
    """Per switch, its lag from the shares of its followed rows (in `Switches.rows()` order)."""
    reached = shares.reshape(len(switches.first_event), switches.horizon + 1) >= 0.5
    return np.where(reached.any(axis=1), reached.argmax(axis=1), switches.horizon + 1)


def lag_summary(switches: Switches, lag: np.ndarray) -> dict[str, float]:
    """Mean lag over switches and over users (each user's switches averaged first), and the
    share of switches never followed within the horizon."""
    if len(lag) == 0:
        return {"switches": 0}
    users, per_user = np.unique(switches.user, return_inverse=True)
    user_mean = np.bincount(per_user, weights=lag) / np.bincount(per_user)
    return {
        "switches": int(len(lag)),
        "users": int(len(users)),
        "mean lag": float(lag.mean()),
        "mean lag per user": float(user_mean.mean()),
        "censored share": float(np.mean(lag > switches.horizon)),
    }
