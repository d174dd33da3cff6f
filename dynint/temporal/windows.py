"""The streaming temporal protocol's data side: a log cut into time windows, and what each window
may see.

The log's items are renumbered by first appearance, so the catalogue known by the end of window
`t` is the contiguous id range `1..catalogue_size(t)`: a model's item table grows by appending
rows, and a full ranking at window `t` ranks exactly those items. Window `t`'s evaluation rows
are all of its events, each predicted from the user's every earlier event (earlier windows and
earlier in window `t`); a model is fitted only on `visible_before(t)`, the events of windows
`0..t-1`. A user's first event, with nothing before it to recommend from, is no evaluation row.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dynint.data.interactions import Interactions
from dynint.data.ragged import Ragged
from dynint.data.splits import EvalSet
from dynint.errors import ConfigError
from dynint.temporal.config import TemporalConfig
from dynint.train.windows import positions_in_rows


@dataclass(frozen=True)
class TemporalStream:
    """A log renumbered by first appearance and cut into windows.

    `sequences[u]` / `times[u]` are user `u`'s events in time order; `window[e]` is the window of
    event `e` of `sequences.values`; `starts[t]` the first timestamp of window `t` (with
    `starts[-1]` after the last event); `first_window[i]` the window item `i` first appears in.
    `interactions` keeps the renumbered log, its item ids and features.
    """

    interactions: Interactions
    sequences: Ragged
    times: Ragged
    window: np.ndarray
    starts: np.ndarray
    first_window: np.ndarray

    @property
    def num_windows(self) -> int:
        return len(self.starts) - 1

    @property
    def num_users(self) -> int:
        return len(self.sequences)

    def catalogue_size(self, window: int) -> int:
        """How many items have appeared by the end of `window` (they are items `1..` that)."""
        self._check_window(window)
        return int(np.count_nonzero(self.first_window[1:] <= window))

    def visible_before(self, window: int) -> tuple[Ragged, Ragged]:
        """Per user, the events of windows `0..window-1` and their times: all a model is fitted on
        before `window` is scored."""
        self._check_window(window)
        return self._per_user(self.window < window)

    def visible_before_end_of(self, window: int) -> tuple[Ragged, Ragged]:
        """Per user, the events up to the end of `window`: where its histories' times are read
        (never fitted on before `window` is scored)."""
        self._check_window(window)
        return self._per_user(self.window <= window)

    def window_events(self, window: int) -> tuple[Ragged, Ragged]:
        """Per user, the events of `window` alone (an incremental update's new data)."""
        self._check_window(window)
        return self._per_user(self.window == window)

    def eval_set(self, window: int) -> EvalSet:
        """Every event of `window` that has an earlier event of its user, predicted from all of them."""
        self._check_window(window)
        position = positions_in_rows(self.sequences.lengths)
        return self.rows_of(np.flatnonzero((self.window == window) & (position > 0)))

    def window_0_validation(self, valid_fraction: float) -> tuple[Ragged, Ragged, EvalSet]:
        """Window 0 held out for early stopping: the per-user events before the time its latest
        `valid_fraction` of events begins at and their times (training), and every later window-0
        event with an earlier event of its user as a validation row, predicted from all of them."""
        cut, valid = self.latest_events(0, valid_fraction)
        return (*self.events_between(-np.inf, cut), valid)

    def latest_events(self, window: int, valid_fraction: float) -> tuple[float, EvalSet]:
        """The time `window`'s latest `valid_fraction` of events begin at, and those events (each
        with an earlier event of its user) as validation rows, predicted from every earlier event."""
        self._check_window(window)
        in_window = self.window == window
        cut = float(np.quantile(self.times.values[in_window], 1 - valid_fraction, method="lower"))
        later = in_window & (self.times.values >= cut)
        valid = later & (positions_in_rows(self.sequences.lengths) > 0)
        if not (in_window & ~later).any() or not valid.any():
            raise ConfigError(
                f"temporal.valid_fraction={valid_fraction} leaves window {window} without training or validation events"
            )
        return cut, self.rows_of(np.flatnonzero(valid))

    def events_between(self, start: float, end: float) -> tuple[Ragged, Ragged]:
        """Per user, the events at times in `[start, end)` and their times."""
        return self._per_user((self.times.values >= start) & (self.times.values < end))

    def rows_of(self, events: np.ndarray) -> EvalSet:
        """Evaluation rows for `events` (indices into `sequences.values`): each from every earlier event."""
        users = self.sequences.row_ids()[events]
        lengths = positions_in_rows(self.sequences.lengths)[events]
        starts = np.repeat(self.sequences.offsets[users], lengths)
        histories = Ragged.from_lengths(self.sequences.values[starts + positions_in_rows(lengths)], lengths)
        return EvalSet(users, self.sequences.values[events], histories, self.times.values[events].astype(np.float64))

    def _per_user(self, keep: np.ndarray) -> tuple[Ragged, Ragged]:
        lengths = np.bincount(self.sequences.row_ids()[keep], minlength=self.num_users)
        return Ragged.from_lengths(self.sequences.values[keep], lengths), Ragged.from_lengths(
            self.times.values[keep], lengths
        )

    def _check_window(self, window: int) -> None:
        if not 0 <= window < self.num_windows:
            raise ValueError(f"window {window}: expected 0..{self.num_windows - 1}")


def temporal_stream(interactions: Interactions, config: TemporalConfig) -> TemporalStream:
    """Renumber `interactions`' items by first appearance and cut its time line per `config`.

    Refuses a log without real timestamps (a user's order alone cannot place events of different
    users on one time line) and cuts that leave a window empty.
    """
    source = interactions.source or "the data set"
    if not interactions.has_timestamps:
        raise ConfigError(
            f"{source}: the temporal protocol needs event timestamps, and this log records only each user's "
            "order (its events of different users cannot be placed on one time line); use a data set with "
            "timestamps (ml-100k, the raw Amazon reviews, synthetic)"
        )
    if len(interactions) == 0:
        raise ConfigError(f"{source}: the temporal protocol needs events; the log is empty")
    renumbered = _renumbered_by_first_appearance(interactions)
    sequences, times = renumbered.user_sequences()
    starts = _window_starts(np.sort(times.values), config, source)
    window = np.searchsorted(starts, times.values, side="right") - 1
    first_window = np.full(renumbered.num_items + 1, config.num_windows, dtype=np.int64)
    np.minimum.at(first_window, sequences.values, window)
    first_window[0] = -1
    return TemporalStream(renumbered, sequences, times, window, starts, first_window)


def _renumbered_by_first_appearance(interactions: Interactions) -> Interactions:
    """Items numbered `1..n` in the order of their first event (ties: user, then source order).
    An item with no event is dropped from the id map."""
    order = np.lexsort((np.arange(len(interactions)), interactions.user, interactions.timestamp))
    old_ids, first_event = np.unique(interactions.item[order], return_index=True)
    by_appearance = old_ids[np.argsort(first_event, kind="stable")]
    new_id = np.zeros(interactions.num_items + 1, dtype=np.int64)
    new_id[by_appearance] = np.arange(1, len(by_appearance) + 1)
    item_rows = np.concatenate([[0], by_appearance])
    features = interactions.item_features
    return replace(
        interactions,
        item=new_id[interactions.item],
        item_ids=interactions.item_ids[item_rows],
        item_features=None if features is None else features.take(item_rows),
    )


def _window_starts(sorted_times: np.ndarray, config: TemporalConfig, source: str) -> np.ndarray:
    """`num_windows + 1` increasing times: each window's first time, then one past the last event."""
    first, last = sorted_times[0], sorted_times[-1]
    k = config.num_windows
    if config.cut == "time":
        starts = first + (last - first) * np.arange(k) / k
    else:
        starts = sorted_times[(len(sorted_times) * np.arange(k)) // k]
    starts = np.concatenate([starts, [np.nextafter(last, np.inf)]])
    counts = np.diff(np.searchsorted(sorted_times, starts, side="left"))
    if not (np.all(np.diff(starts) > 0) and np.all(counts > 0)):
        empty = int(np.flatnonzero(counts == 0)[0]) if np.any(counts == 0) else int(np.argmin(np.diff(starts)))
        raise ConfigError(
            f"{source}: temporal.num_windows={k} with temporal.cut={config.cut!r} leaves window {empty} empty "
            f"({len(sorted_times)} events, many sharing a timestamp); use fewer windows or the other cut"
        )
    return starts
