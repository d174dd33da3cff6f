"""Leakage-free evaluation splits: leave-one-out, global temporal and item cold start.

A `Split` keeps per-user training sequences (the only source of training inputs and
targets) apart from the validation and test `EvalSet`s. `visible(stage)` says which events a
model or baseline may fit on before it is evaluated on that stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from dynint.data.interactions import Interactions
from dynint.data.ragged import Ragged

Stage = Literal["valid", "test"]


@dataclass(frozen=True)
class EvalSet:
    """Evaluation rows: predict `targets[r]` for `users[r]` having seen `histories[r]`."""

    users: np.ndarray
    targets: np.ndarray
    histories: Ragged
    timestamps: np.ndarray

    def __len__(self) -> int:
        return len(self.users)

    def take(self, rows: np.ndarray) -> EvalSet:
        return EvalSet(self.users[rows], self.targets[rows], self.histories.take(rows), self.timestamps[rows])


@dataclass(frozen=True)
class Split:
    """Training sequences, validation and test rows, and what is visible at each stage.

    `train` / `train_timestamps` have one row per user. `test_visible` has one row per user:
    the events a model may know when predicting test targets (training plus validation
    events). `all_events` is every event, kept only for the explicitly leaky protocol option.
    `test_visible_timestamps` / `all_timestamps` hold the times of those events (None in splits
    built without them); `visible_timestamps(stage)` pairs with `visible(stage)`.
    `cold_items[stage]` lists, for the item cold-start split, the items held out of everything a
    model may see before `stage` (empty for the other splits).
    """

    kind: str
    num_users: int
    num_items: int
    train: Ragged
    train_timestamps: Ragged
    valid: EvalSet
    test: EvalSet
    test_visible: Ragged
    all_events: Ragged
    test_visible_timestamps: Ragged | None = None
    all_timestamps: Ragged | None = None
    cold_items: dict[str, np.ndarray] = field(default_factory=dict)

    def visible(self, stage: Stage) -> Ragged:
        """Per-user events a model may fit on before being evaluated on `stage`."""
        if stage == "valid":
            return self.train
        if stage == "test":
            return self.test_visible
        raise ValueError(f"unknown stage {stage!r}; expected 'valid' or 'test'")

    def visible_timestamps(self, stage: Stage) -> Ragged | None:
        """The timestamps of `visible(stage)`, event for event (None if the split lacks them)."""
        if stage == "valid":
            return self.train_timestamps
        if stage == "test":
            return self.test_visible_timestamps
        raise ValueError(f"unknown stage {stage!r}; expected 'valid' or 'test'")

    def history_times(self, stage: Stage) -> Ragged | None:
        """The event times of `eval_set(stage).histories`, event for event (None if the split lacks
        timestamps): each history is its user's visible events, whose times the split keeps."""
        times = self.visible_timestamps(stage)
        if times is None:
            return None
        eval_set = self.eval_set(stage)
        visible = self.visible(stage).take(eval_set.users)
        if not (
            np.array_equal(visible.lengths, eval_set.histories.lengths)
            and np.array_equal(visible.values, eval_set.histories.values)
        ):
            raise ValueError(f"the {stage} histories are not the users' visible events, so their times are unknown")
        return times.take(eval_set.users)

    def training_catalogue(self, stage: Stage) -> np.ndarray | None:
        """The items a model fitted on `visible(stage)` may know of, as sorted ids, for losses to
        draw negatives and softmax terms from; None means every item. Under item cold start the
        held-out items are in no training input or target, so they are no negatives either: the
        validation- and test-cold items before validation, the test-cold ones before test."""
        if not self.cold_items:
            return None
        held_out = self.cold_items["test"] if stage == "test" else np.union1d(*self.cold_items.values())
        return np.setdiff1d(np.arange(1, self.num_items + 1), held_out)

    def eval_set(self, stage: Stage) -> EvalSet:
        if stage not in ("valid", "test"):
            raise ValueError(f"unknown stage {stage!r}; expected 'valid' or 'test'")
        return self.valid if stage == "valid" else self.test


def leave_one_out_split(interactions: Interactions) -> Split:
    """Per user: last event is the test target, second to last the validation target, the rest
    training. Users with fewer than 3 events contribute only training events."""
    sequences, times = interactions.user_sequences()
    lengths = sequences.lengths
    evaluated = lengths >= 3
    train_lengths = np.where(evaluated, lengths - 2, lengths)
    train_rows = [sequences[u][: train_lengths[u]] for u in range(len(sequences))]
    train_times = [times[u][: train_lengths[u]] for u in range(len(sequences))]
    users = np.flatnonzero(evaluated)
    ends = sequences.offsets[users + 1]
    valid = EvalSet(
        users=users,
        targets=sequences.values[ends - 2],
        histories=Ragged.from_rows(train_rows).take(users),
        timestamps=times.values[ends - 2],
    )
    visible_lengths = np.where(evaluated, lengths - 1, lengths)
    test_visible = Ragged.from_rows([sequences[u][: visible_lengths[u]] for u in range(len(sequences))])
    test_visible_times = Ragged.from_rows(
        [times[u][: visible_lengths[u]] for u in range(len(sequences))], dtype=np.float64
    )
    test = EvalSet(
        users=users,
        targets=sequences.values[ends - 1],
        histories=test_visible.take(users),
        timestamps=times.values[ends - 1],
    )
    return Split(
        kind="leave-one-out",
        num_users=interactions.num_users,
        num_items=interactions.num_items,
        train=Ragged.from_rows(train_rows),
        train_timestamps=Ragged.from_rows(train_times, dtype=np.float64),
        valid=valid,
        test=test,
        test_visible=test_visible,
        all_events=sequences,
        test_visible_timestamps=test_visible_times,
        all_timestamps=times,
    )


def temporal_split(interactions: Interactions, valid_fraction: float = 0.1, test_fraction: float = 0.1) -> Split:
    """Global split by time: the latest `test_fraction` of events form the test window, the
    `valid_fraction` before them the validation window. Each user's first event in a window is
    that window's target, with all of the user's earlier events as history; training uses only
    events before the validation window."""
    if not (0 < valid_fraction < 1 and 0 < test_fraction < 1 and valid_fraction + test_fraction < 1):
        raise ValueError(
            f"valid_fraction={valid_fraction}, test_fraction={test_fraction}: expected both in (0, 1) with sum < 1"
        )
    if len(interactions) == 0:
        raise ValueError(f"{interactions.source or 'data'}: temporal split of a log with no events")
    sequences, times = interactions.user_sequences()
    all_times = np.sort(times.values)
    n = len(all_times)
    valid_start = all_times[int(np.floor(n * (1 - valid_fraction - test_fraction)))]
    test_start = all_times[int(np.floor(n * (1 - test_fraction)))]
    if not valid_start < test_start:
        raise ValueError(
            "temporal split: validation and test windows start at the same time; too many equal timestamps"
        )
    before_valid = times.values < valid_start
    before_test = times.values < test_start
    train = _prefix(sequences, before_valid)
    test_visible = _prefix(sequences, before_test)
    valid = _first_in_window(sequences, times, before_valid, before_test)
    test = _first_in_window(sequences, times, before_test, np.ones_like(before_test))
    return Split(
        kind="temporal",
        num_users=interactions.num_users,
        num_items=interactions.num_items,
        train=train,
        train_timestamps=_prefix(times, before_valid),
        valid=valid,
        test=test,
        test_visible=test_visible,
        all_events=sequences,
        test_visible_timestamps=_prefix(times, before_test),
        all_timestamps=times,
    )


def cold_item_split(interactions: Interactions, cold_item_fraction: float = 0.1, seed: int = 0) -> Split:
    """Item cold start: rank items that no training event mentions.

    The items are shuffled with `seed` and cut into validation-cold and test-cold items (each a
    `cold_item_fraction` share, rounded) and warm items (the rest). Training holds every warm
    event and nothing else. A validation row is a user's first event on a validation-cold item
    with the user's earlier warm events as history; a test row a user's first event on a
    test-cold item with the user's earlier warm and validation-cold events as history, since at
    test time a model may also see the validation events: `visible("test")` is every event on a
    warm or validation-cold item. Test-cold items appear nowhere but in test targets, and
    validation-cold items nowhere in training. A user whose first such event has no visible event
    before it is judged on their first one that has (a history to recommend from).
    """
    num_items = interactions.num_items
    if not 0 < cold_item_fraction < 0.5:
        raise ValueError(f"cold_item_fraction={cold_item_fraction}: expected a number in (0, 0.5)")
    num_cold = round(cold_item_fraction * num_items)
    if num_cold < 1 or 2 * num_cold >= num_items:
        raise ValueError(
            f"{interactions.source or 'data'}: cold_item_fraction={cold_item_fraction} of {num_items} items gives "
            f"{num_cold} cold items per stage; expected at least 1, leaving at least one warm item"
        )
    shuffled = np.random.default_rng(seed).permutation(np.arange(1, num_items + 1))
    cold_items = {"valid": np.sort(shuffled[:num_cold]), "test": np.sort(shuffled[num_cold : 2 * num_cold])}
    sequences, times = interactions.user_sequences()
    is_valid_cold = np.isin(sequences.values, cold_items["valid"])
    is_test_cold = np.isin(sequences.values, cold_items["test"])
    warm = ~is_valid_cold & ~is_test_cold
    train, test_visible = _prefix(sequences, warm), _prefix(sequences, ~is_test_cold)
    return Split(
        kind="cold-items",
        num_users=interactions.num_users,
        num_items=num_items,
        train=train,
        train_timestamps=_prefix(times, warm),
        valid=_first_target_after_history(sequences, times, is_valid_cold, warm, train),
        test=_first_target_after_history(sequences, times, is_test_cold, ~is_test_cold, test_visible),
        test_visible=test_visible,
        all_events=sequences,
        test_visible_timestamps=_prefix(times, ~is_test_cold),
        all_timestamps=times,
        cold_items=cold_items,
    )


def _first_target_after_history(
    sequences: Ragged, times: Ragged, is_target: np.ndarray, visible: np.ndarray, visible_rows: Ragged
) -> EvalSet:
    """Per user, the first target event preceded by at least one visible event; its history is the
    user's visible events before it (a prefix of `visible_rows`, which is `_prefix(sequences, visible)`)."""
    visible_so_far = np.concatenate([[0], np.cumsum(visible)])
    row_ids = sequences.row_ids()
    visible_before = visible_so_far[:-1] - visible_so_far[sequences.offsets[row_ids]]
    candidates = np.flatnonzero(is_target & (visible_before > 0))
    users, first = np.unique(row_ids[candidates], return_index=True)
    events = candidates[first]
    lengths = visible_before[events]
    starts = np.repeat(visible_rows.offsets[users], lengths)
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    histories = Ragged.from_lengths(visible_rows.values[starts + within], lengths)
    return EvalSet(users.astype(np.int64), sequences.values[events], histories, times.values[events].astype(np.float64))


def _prefix(rows: Ragged, keep: np.ndarray) -> Ragged:
    """Per row, the values whose `keep` flag is set, in order."""
    # bincount rather than add.reduceat, which fails when the last rows are empty (offset == len(values)).
    lengths = np.bincount(rows.row_ids()[keep], minlength=len(rows))
    return Ragged.from_lengths(rows.values[keep], lengths)


def _first_in_window(sequences: Ragged, times: Ragged, before: np.ndarray, before_end: np.ndarray) -> EvalSet:
    in_window = ~before & before_end
    history = _prefix(sequences, before)
    users, targets, stamps = [], [], []
    for u in range(len(sequences)):
        start, end = sequences.offsets[u], sequences.offsets[u + 1]
        hits = np.flatnonzero(in_window[start:end])
        if len(hits):
            users.append(u)
            targets.append(sequences.values[start + hits[0]])
            stamps.append(times.values[start + hits[0]])
    users = np.asarray(users, dtype=np.int64)
    return EvalSet(
        users, np.asarray(targets, dtype=np.int64), history.take(users), np.asarray(stamps, dtype=np.float64)
    )
