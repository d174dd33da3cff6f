"""Click-through-rate samples built from a leakage-free `Split`, as DIN / DIEN / BST consume them.

A sample pairs a user's behaviour prefix with a target item: the true next item (label 1) or an
item sampled uniformly among those the user never touched in the data visible at that stage
(label 0). Training samples come from every prefix of `split.train`; validation and test samples
from the split's `EvalSet`s, so their positive targets are exactly the split's. Every random draw
derives from one seed, so all models see the same negatives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from dynint.data.interactions import ItemFeatures
from dynint.data.ragged import Ragged
from dynint.data.splits import Split

CTRStage = Literal["train", "valid", "test"]
CTR_STAGES: tuple[CTRStage, ...] = ("train", "valid", "test")

# Seeds of the two independent draws per stage (`np.random.default_rng([seed, stage, purpose])`).
_TARGET_NEGATIVES, _HISTORY_NEGATIVES = 0, 1


@dataclass(frozen=True)
class CTRSamples:
    """Parallel arrays, one row per sample.

    `histories` `(N, L)` int32 are left-aligned, most recent item last, 0 = padding;
    `history_negatives` `(N, L)` hold, per history position, a sampled item different from the
    one there (0 at padding), the non-clicked behaviours of DIEN's auxiliary loss. `ratings`
    (float32, where the data has ratings) hold the rating the user gave each positive's target
    item, and 0 for sampled negatives, which were never rated.
    """

    users: np.ndarray
    histories: np.ndarray
    targets: np.ndarray
    labels: np.ndarray
    history_negatives: np.ndarray
    ratings: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.users)

    def take(self, rows: np.ndarray, length: int | None = None) -> CTRSamples:
        """The samples `rows`; with `length`, histories keep their first `length` columns (the
        whole history of every row whose history is at most that long, histories being left-aligned)."""
        columns = slice(None, length)
        return CTRSamples(
            self.users[rows],
            self.histories[rows, columns],
            self.targets[rows],
            self.labels[rows],
            self.history_negatives[rows, columns],
            None if self.ratings is None else self.ratings[rows],
        )


class CTRBatch(NamedTuple):
    """What every CTR model reads. `*_tokens[name]` hold each item's feature tokens (0 = padding):
    `(B, L, F)` for the history and its negatives, `(B, F)` for the target. `ratings` as in
    `CTRSamples` (None without ratings; click models never read them)."""

    histories: np.ndarray
    history_tokens: dict[str, np.ndarray]
    targets: np.ndarray
    target_tokens: dict[str, np.ndarray]
    history_negatives: np.ndarray
    negative_tokens: dict[str, np.ndarray]
    labels: np.ndarray
    ratings: np.ndarray | None = None


@dataclass(frozen=True)
class CTRData:
    """Samples per stage and each feature's `(num_items + 1, F)` token table (row 0: padding item)."""

    train: CTRSamples
    valid: CTRSamples
    test: CTRSamples
    item_tokens: dict[str, np.ndarray]
    feature_sizes: dict[str, int]
    num_items: int
    max_length: int

    def stage(self, stage: CTRStage) -> CTRSamples:
        if stage not in CTR_STAGES:
            raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(CTR_STAGES)}")
        return getattr(self, stage)

    def batch(self, stage: CTRStage, rows: np.ndarray, length: int | None = None) -> CTRBatch:
        """The samples `rows` of `stage` as a model batch, histories cut to `length` columns."""
        return make_ctr_batch(self.stage(stage).take(rows, length), self.item_tokens)


def build_ctr_data(
    split: Split,
    item_features: ItemFeatures | None,
    *,
    max_length: int,
    negatives_per_positive: int = 1,
    seed: int = 0,
    max_tokens: int | None = None,
    ratings: Ragged | None = None,
) -> CTRData:
    """Samples for every stage plus the item feature tables (none when `item_features` is None);
    with `ratings` (see `build_ctr_samples`) the samples carry their targets' ratings."""
    samples = {
        stage: build_ctr_samples(
            split,
            stage,
            max_length=max_length,
            negatives_per_positive=negatives_per_positive,
            seed=seed,
            ratings=ratings,
        )
        for stage in CTR_STAGES
    }
    tokens = {} if item_features is None else item_features.tokens
    for name, rows in tokens.items():
        if len(rows) != split.num_items + 1:
            raise ValueError(
                f"item feature {name!r} has {len(rows)} rows; expected num_items + 1 = {split.num_items + 1}"
            )
    return CTRData(
        **samples,
        item_tokens={name: token_table(rows, max_tokens) for name, rows in sorted(tokens.items())},
        feature_sizes={name: len(item_features.vocabularies[name]) for name in sorted(tokens)},
        num_items=split.num_items,
        max_length=max_length,
    )


def build_ctr_samples(
    split: Split,
    stage: CTRStage,
    *,
    max_length: int,
    negatives_per_positive: int = 1,
    seed: int = 0,
    ratings: Ragged | None = None,
) -> CTRSamples:
    """One positive and `negatives_per_positive` negatives per prefix (training) or evaluation row.

    Rows are grouped per positive: the positive first, then its negatives, all with its history.
    Training negatives avoid the user's whole training sequence; validation and test negatives
    avoid the row's full (untruncated) history and its target. Nothing else is excluded: in
    particular a training negative may be the user's held-out item, since excluding it would leak it.
    `ratings` (per-user ratings event for event as `split.all_events`, e.g.
    `Interactions.user_ratings()`) give each positive its target's rating (negatives get 0).
    """
    if max_length < 1 or negatives_per_positive < 0:
        raise ValueError(
            f"max_length={max_length}, negatives_per_positive={negatives_per_positive}: expected >= 1 and >= 0"
        )
    if stage == "train":
        users, ends, positives = _training_prefixes(split.train)
        values, row_starts = split.train.values, split.train.offsets[users]
        groups, forbidden = users, split.train
        positions = ends - row_starts
    elif stage in ("valid", "test"):
        rows = split.eval_set(stage)
        users, ends, positives = rows.users, rows.histories.offsets[1:], rows.targets
        values, row_starts = rows.histories.values, rows.histories.offsets[:-1]
        groups, forbidden = np.arange(len(rows)), _append_to_rows(rows.histories, rows.targets)
        positions = rows.histories.lengths  # a row's history is every event of its user before the target
    else:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(CTR_STAGES)}")
    starts = np.maximum(ends - max_length, row_starts)
    histories = left_aligned_windows(values, starts, ends - starts, max_length)

    per_positive = 1 + negatives_per_positive
    stage_index = CTR_STAGES.index(stage)
    negatives = sample_unseen_items(
        np.random.default_rng([seed, stage_index, _TARGET_NEGATIVES]),
        np.repeat(groups, negatives_per_positive),
        forbidden,
        split.num_items,
    )
    targets = np.concatenate([positives[:, None], negatives.reshape(len(positives), negatives_per_positive)], axis=1)
    labels = np.zeros((len(positives), per_positive), np.float32)
    labels[:, 0] = 1.0
    history_negatives = sample_other_items(
        np.random.default_rng([seed, stage_index, _HISTORY_NEGATIVES]), histories, split.num_items
    )
    target_ratings = None
    if ratings is not None:
        target_ratings = np.zeros((len(positives), per_positive), np.float32)
        target_ratings[:, 0] = _target_ratings(split, ratings, users, positions, positives)
    return CTRSamples(
        users=np.repeat(np.asarray(users, np.int64), per_positive),
        histories=np.repeat(histories, per_positive, axis=0),
        targets=targets.reshape(-1).astype(np.int32),
        labels=labels.reshape(-1),
        history_negatives=np.repeat(history_negatives, per_positive, axis=0),
        ratings=None if target_ratings is None else target_ratings.reshape(-1),
    )


def make_ctr_batch(samples: CTRSamples, item_tokens: Mapping[str, np.ndarray]) -> CTRBatch:
    """`samples` as a model batch, with every item's feature tokens looked up."""
    return CTRBatch(
        histories=samples.histories,
        history_tokens={name: table[samples.histories] for name, table in item_tokens.items()},
        targets=samples.targets,
        target_tokens={name: table[samples.targets] for name, table in item_tokens.items()},
        history_negatives=samples.history_negatives,
        negative_tokens={name: table[samples.history_negatives] for name, table in item_tokens.items()},
        labels=samples.labels,
        ratings=samples.ratings,
    )


def token_table(rows: Ragged, max_tokens: int | None = None) -> np.ndarray:
    """A multi-valued feature as a dense `(rows, F)` int32 table, left-aligned, 0-padded; `F` is
    the longest row (at least 1), or `max_tokens`, which keeps each row's first tokens."""
    width = max(int(rows.lengths.max(initial=0)), 1) if max_tokens is None else max_tokens
    lengths = np.minimum(rows.lengths, width)
    return left_aligned_windows(rows.values, rows.offsets[:-1], lengths, width)


def left_aligned_windows(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray, width: int) -> np.ndarray:
    """`(len(starts), width)` int32 rows `values[starts[i] : starts[i] + lengths[i]]`, 0-padded."""
    columns = np.arange(width)
    inside = columns[None, :] < lengths[:, None]
    index = np.where(inside, starts[:, None] + columns[None, :], 0)
    if len(values) == 0:
        return np.zeros(index.shape, np.int32)
    return np.where(inside, values[index], 0).astype(np.int32)


def sample_unseen_items(rng: np.random.Generator, groups: np.ndarray, forbidden: Ragged, num_items: int) -> np.ndarray:
    """For each entry of `groups`, an item in `1..num_items` uniformly among those not in
    `forbidden[group]`, by vectorised rejection (a few rounds unless a group forbids most items)."""
    stride = np.int64(num_items + 1)
    forbidden_keys = np.unique(forbidden.row_ids() * stride + forbidden.values)
    per_group = np.bincount(forbidden_keys // stride, minlength=len(forbidden))
    full = np.flatnonzero(per_group[np.unique(groups)] >= num_items) if len(groups) else []
    if len(full):
        raise ValueError(f"group {np.unique(groups)[full[0]]} has seen every item; no negative can be sampled")
    items = np.zeros(len(groups), np.int64)
    pending = np.arange(len(groups))
    while len(pending):
        items[pending] = rng.integers(1, num_items + 1, size=len(pending))
        keys = groups[pending] * stride + items[pending]
        position = np.minimum(np.searchsorted(forbidden_keys, keys), max(len(forbidden_keys) - 1, 0))
        seen = forbidden_keys[position] == keys if len(forbidden_keys) else np.zeros(len(keys), bool)
        pending = pending[seen]
    return items


def sample_other_items(rng: np.random.Generator, items: np.ndarray, num_items: int) -> np.ndarray:
    """Per non-zero entry of `items`, an item in `1..num_items` drawn uniformly among the others
    (0 stays 0): draw from `num_items - 1` values and step over the true item."""
    draws = rng.integers(1, num_items, size=items.shape)
    draws += draws >= items
    return np.where(items != 0, draws, 0).astype(np.int32)


def _training_prefixes(train: Ragged) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per training event after a user's first: its user, its flat index (the prefix ends before
    it) and its item."""
    rows = train.row_ids()
    events = np.flatnonzero(np.arange(len(train.values)) > train.offsets[rows])
    return rows[events], events, train.values[events]


def _target_ratings(
    split: Split, ratings: Ragged, users: np.ndarray, positions: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """The rating of event `positions[i]` of user `users[i]`'s full sequence, which must be the
    sample's target."""
    if not np.array_equal(ratings.offsets, split.all_events.offsets):
        raise ValueError("ratings do not have one entry per event of split.all_events, user by user")
    events = split.all_events.offsets[users] + positions
    if not np.array_equal(split.all_events.values[events], targets):
        raise RuntimeError("a sample's target is not the event its rating is read from")
    return ratings.values[events].astype(np.float32)


def _append_to_rows(rows: Ragged, extra: np.ndarray) -> Ragged:
    """Each row of `rows` with `extra[row]` appended."""
    lengths = rows.lengths + 1
    offsets = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = np.empty(offsets[-1], dtype=np.result_type(rows.values, extra))
    mask = np.ones(len(values), bool)
    mask[offsets[1:] - 1] = False
    values[mask] = rows.values
    values[offsets[1:] - 1] = extra
    return Ragged(values, offsets)
