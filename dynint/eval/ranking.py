"""Ranking protocols: the 0-based rank of each evaluation row's target among all items (full
ranking) or among sampled negatives, and the metrics computed from those ranks.

Conventions shared by both protocols:
- Items are `1..num_items`; the padding item 0 is never a candidate.
- Ties are broken by item id: rank = #{candidates scoring above the target} + #{candidates
  scoring the same as the target with a lower item id}. Ranks are thus deterministic, and
  computed per row, so they do not depend on batch size, item chunking or batch composition
  (as long as the scorer's score of a (row, item) pair does not).
- With `exclude_seen`, items in the row's history are not candidates, except the target itself,
  which is always ranked even when it was seen before (RecBole's convention).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np
from tqdm.auto import tqdm

from dynint.data.splits import EvalSet
from dynint.eval.protocols import RankingProtocol
from dynint.eval.ranking_metrics import ranking_metrics
from dynint.eval.scorer import Scorer, score_candidates, score_items

# Rejection sampling of negatives: draws per block, rounds before the exact per-row fallback,
# and the acceptance rate below which a row goes straight to the fallback.
_MAX_DRAWS_PER_BLOCK = 1 << 22
_MAX_REJECTION_ROUNDS = 10
_MIN_ACCEPTANCE = 0.05


def full_ranking_ranks(
    scorer: Scorer,
    eval_set: EvalSet,
    num_items: int,
    *,
    exclude_seen: bool = True,
    batch_size: int = 256,
    item_chunk_size: int | None = None,
    progress: bool = True,
) -> np.ndarray:
    """0-based rank of each row's target among all items `1..num_items` (see the module notes).

    Rows are scored `batch_size` at a time; with `item_chunk_size`, items are scored in chunks
    of that size in two passes (target scores, then counts), so peak memory is
    O(batch_size * item_chunk_size) instead of O(batch_size * num_items).
    """
    _check_eval_set(eval_set, num_items)
    _check_positive(batch_size=batch_size, item_chunk_size=item_chunk_size)
    chunk = num_items if item_chunk_size is None else item_chunk_size
    chunks = [(low, min(low + chunk, num_items + 1)) for low in range(1, num_items + 1, chunk)]
    ranks = np.empty(len(eval_set), dtype=np.int64)
    for rows in _row_batches(len(eval_set), batch_size, "full ranking", progress):
        ranks[rows] = _full_ranks_of_batch(scorer, eval_set.take(rows), chunks, exclude_seen)
    return ranks


def _full_ranks_of_batch(
    scorer: Scorer, batch: EvalSet, chunks: list[tuple[int, int]], exclude_seen: bool
) -> np.ndarray:
    targets = batch.targets
    target_scores = None
    last_scored = None
    for low, high in chunks:
        holds_target = (targets >= low) & (targets < high)
        if holds_target.any():
            scores = score_items(scorer, batch.users, batch.histories, np.arange(low, high))
            if target_scores is None:  # the scores' own dtype keeps comparisons exact and fast
                target_scores = np.empty(len(batch), dtype=scores.dtype)
            target_scores[holds_target] = scores[holds_target, targets[holds_target] - low]
            last_scored = (low, scores)

    # Pairs that are no candidates: each row's target (never its own competitor, even should a
    # second scoring of it differ slightly) and, with exclude_seen, its history items.
    pair_rows, pair_items = [np.arange(len(batch))], [targets]
    if exclude_seen:
        pair_rows.append(batch.histories.row_ids())
        pair_items.append(batch.histories.values)
    stride = chunks[-1][1]  # num_items + 1: (row, item) pairs as keys row * stride + item
    pairs = _sorted_unique(np.concatenate(pair_rows) * stride + np.concatenate(pair_items))
    pair_rows, pair_items = pairs // stride, pairs % stride

    ranks = np.zeros(len(batch), dtype=np.int64)
    # Reversed, so that the chunk scored last above is reused (the only chunk when unchunked).
    for low, high in reversed(chunks):
        if last_scored is not None and last_scored[0] == low:
            scores = last_scored[1]
        else:
            scores = score_items(scorer, batch.users, batch.histories, np.arange(low, high))
        last_scored = None
        ranks += _count_ahead_in_chunk(scores, low, target_scores, targets)
        here = (pair_items >= low) & (pair_items < high)
        rows, items = pair_rows[here], pair_items[here]
        counted = _ahead_of_target(scores[rows, items - low], items, target_scores[rows], targets[rows])
        ranks -= np.bincount(rows[counted], minlength=len(batch))
    return ranks


def _count_ahead_in_chunk(scores: np.ndarray, low: int, target_scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per row, how many of the items `low, low + 1, ...` scored in `scores` are ahead of the
    target: a higher score, or an equal score (`>=`) among the items with lower ids."""
    target_scores = target_scores[:, None]
    ahead = scores > target_scores
    lower_id = np.arange(scores.shape[1]) < (targets - low)[:, None]
    np.greater_equal(scores, target_scores, out=ahead, where=lower_id)
    # Summing the bytes is several times faster than np.count_nonzero(..., axis=1).
    return np.add.reduce(ahead.view(np.uint8), axis=1, dtype=np.int64)


def sampled_ranking_ranks(
    scorer: Scorer, eval_set: EvalSet, negatives: np.ndarray, *, batch_size: int = 256, progress: bool = True
) -> np.ndarray:
    """0-based rank of each row's target among its own negatives `negatives[r]` (ties by item id)."""
    negatives = np.asarray(negatives)
    if negatives.ndim != 2 or len(negatives) != len(eval_set):
        raise ValueError(f"negatives must have shape ({len(eval_set)}, num_negatives); got {negatives.shape}")
    clashes = np.flatnonzero((negatives == eval_set.targets[:, None]).any(axis=1) | (negatives < 1).any(axis=1))
    if len(clashes):
        raise ValueError(f"negatives of row {clashes[0]} contain its target or an item id below 1")
    _check_positive(batch_size=batch_size)
    ranks = np.empty(len(eval_set), dtype=np.int64)
    for rows in _row_batches(len(eval_set), batch_size, "sampled ranking", progress):
        batch = eval_set.take(rows)
        candidates = np.concatenate([batch.targets[:, None], negatives[rows]], axis=1)
        scores = score_candidates(scorer, batch.users, batch.histories, candidates)
        ahead = _ahead_of_target(scores[:, 1:], negatives[rows], scores[:, :1], batch.targets[:, None])
        ranks[rows] = np.count_nonzero(ahead, axis=1)
    return ranks


def _ahead_of_target(
    scores: np.ndarray, items: np.ndarray, target_scores: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """Which candidates rank before the target: higher score, or equal score and lower item id
    (elementwise, broadcasting)."""
    return (scores > target_scores) | ((scores == target_scores) & (items < targets))


def sample_negatives(
    eval_set: EvalSet,
    num_items: int,
    num_negatives: int,
    seed: int,
    *,
    exclude_seen: bool = True,
    popularity: np.ndarray | None = None,
) -> np.ndarray:
    """`(rows, num_negatives)` distinct negative items per row, drawn without replacement
    uniformly, or proportionally to `popularity[item]` (indexed by item id, entry 0 ignored),
    from the items that are neither the row's target nor (with `exclude_seen`) in its history.

    All rows are drawn up front from one PCG64 generator seeded with `seed`, so the negatives
    depend only on the seed and the evaluation rows, never on evaluation batch size.
    """
    _check_eval_set(eval_set, num_items)
    if num_negatives < 0:
        raise ValueError(f"num_negatives={num_negatives}: expected a non-negative integer")
    weights = _sampling_weights(popularity, num_items)
    num_rows = len(eval_set)
    stride = num_items + 1  # (row, item) pairs are handled as sorted keys row * stride + item
    key_rows, key_items = [np.arange(num_rows)], [eval_set.targets]
    if exclude_seen:
        key_rows.append(eval_set.histories.row_ids())
        key_items.append(eval_set.histories.values)
    taken = _sorted_unique(np.concatenate(key_rows) * stride + np.concatenate(key_items))

    _check_enough_items(eval_set, num_negatives, weights, taken, stride, exclude_seen)

    rng = np.random.Generator(np.random.PCG64(seed))
    negatives = np.zeros((num_rows, num_negatives), dtype=np.int64)
    filled = np.zeros(num_rows, dtype=np.int64)
    cdf = np.cumsum(weights) / weights.sum()
    cdf[-1] = 1.0
    for _ in range(_MAX_REJECTION_ROUNDS):
        # Expected draws per row: what it still needs over the share of the sampling mass it may take.
        mass_taken = np.bincount(taken // stride, weights=weights[taken % stride], minlength=num_rows)
        acceptance = 1.0 - mass_taken / weights.sum()
        pending = np.flatnonzero((filled < num_negatives) & (acceptance >= _MIN_ACCEPTANCE))
        if not len(pending):
            break
        expected_draws = (num_negatives - filled[pending]) / acceptance[pending]
        # Rows grouped by a power-of-two number of draws, so one costly row does not widen them all.
        widths = 2 ** np.ceil(np.log2(1.1 * expected_draws + 8)).astype(np.int64)
        accepted = []
        for width in np.unique(widths):
            group = pending[widths == width]
            block = max(1, _MAX_DRAWS_PER_BLOCK // width)
            for start in range(0, len(group), block):
                rows = group[start : start + block]
                if popularity is None:
                    draws = rng.integers(1, num_items + 1, size=(len(rows), width))
                else:
                    draws = np.searchsorted(cdf, rng.random((len(rows), width)), side="right")
                accepted.append(_accept_draws(rows, draws, stride, taken, negatives, filled))
        # Accepted keys are new and unique, so merging two sorted runs (a stable sort) suffices.
        taken = np.sort(np.concatenate([taken, *accepted]), kind="stable")

    # Exact fallback for rows whose allowed items hold little of the sampling mass.
    candidates = np.flatnonzero(weights)
    for row in np.flatnonzero(filled < num_negatives):
        begin, end = np.searchsorted(taken, [row * stride, (row + 1) * stride])
        allowed = np.setdiff1d(candidates, taken[begin:end] - row * stride, assume_unique=True)
        p = weights[allowed] / weights[allowed].sum()
        negatives[row, filled[row] :] = rng.choice(allowed, size=num_negatives - filled[row], replace=False, p=p)
    return negatives


def _check_enough_items(
    eval_set: EvalSet, num_negatives: int, weights: np.ndarray, taken: np.ndarray, stride: int, exclude_seen: bool
) -> None:
    """Raise if a row has fewer than `num_negatives` drawable items (positive weight, not taken)."""
    taken_drawable = np.bincount(taken // stride, weights=weights[taken % stride] > 0, minlength=len(eval_set))
    available = np.count_nonzero(weights) - taken_drawable.astype(np.int64)
    short = np.flatnonzero(available < num_negatives)
    if len(short):
        row = short[0]
        raise ValueError(
            f"row {row} (user {eval_set.users[row]}) has only {available[row]} items left to draw {num_negatives} "
            f"negatives from (num_items={stride - 1}, its target{' and history' if exclude_seen else ''} and any "
            f"zero-popularity items excluded); {len(short)} rows are short"
        )


def _accept_draws(
    rows: np.ndarray, draws: np.ndarray, stride: int, taken: np.ndarray, negatives: np.ndarray, filled: np.ndarray
) -> np.ndarray:
    """Append to `negatives[rows]` (in place, advancing `filled`) each row's draws in draw order,
    skipping taken items and repeats, until the row is full. Returns the accepted keys."""
    keys = rows[:, None] * stride + draws
    ok = ~_contains(taken, keys) & ~_repeats_within_rows(draws)
    order = np.cumsum(ok, axis=1)
    ok &= order <= (negatives.shape[1] - filled[rows])[:, None]
    at_row, at_column = np.nonzero(ok)
    negatives[rows[at_row], filled[rows][at_row] + order[at_row, at_column] - 1] = draws[at_row, at_column]
    filled[rows] += np.count_nonzero(ok, axis=1)
    return keys[ok]


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """`np.unique(keys)` by an explicit sort (numpy's hash-based unique is slow on large int arrays)."""
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def _repeats_within_rows(values: np.ndarray) -> np.ndarray:
    """Marks every value that already occurred earlier in its row (first occurrences stay False)."""
    order = np.argsort(values, axis=1, kind="stable")
    ordered = np.take_along_axis(values, order, axis=1)
    repeat_in_order = np.zeros(values.shape, dtype=bool)
    repeat_in_order[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    repeats = np.empty_like(repeat_in_order)
    np.put_along_axis(repeats, order, repeat_in_order, axis=1)
    return repeats


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Elementwise `keys in sorted_keys`, by binary search (no sort of `keys`)."""
    if not len(sorted_keys):
        return np.zeros(keys.shape, dtype=bool)
    position = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[position] == keys


def _sampling_weights(popularity: np.ndarray | None, num_items: int) -> np.ndarray:
    """Float64 sampling weight of each item id `0..num_items`; the padding item gets 0."""
    if popularity is None:
        weights = np.ones(num_items + 1, dtype=np.float64)
    else:
        weights = np.asarray(popularity, dtype=np.float64).copy()
        if weights.shape != (num_items + 1,):
            raise ValueError(f"popularity must have shape (num_items + 1,) = ({num_items + 1},); got {weights.shape}")
        if not np.all(np.isfinite(weights)) or weights.min() < 0:
            raise ValueError("popularity must be finite and non-negative")
    weights[0] = 0.0
    return weights


def evaluate_ranking(
    scorer: Scorer,
    eval_set: EvalSet,
    num_items: int,
    config: RankingProtocol,
    *,
    popularity: np.ndarray | None = None,
    progress: bool = True,
) -> dict[str, float]:
    """Run the ranking protocol `config` and return `ranking_metrics` at `config.ks`.

    `popularity` (indexed by item id) is required for, and only used by,
    `negative_sampling="popularity"`.
    """
    if config.kind == "full":
        ranks = full_ranking_ranks(
            scorer,
            eval_set,
            num_items,
            exclude_seen=config.exclude_seen,
            batch_size=config.batch_size,
            item_chunk_size=config.item_chunk_size,
            progress=progress,
        )
    else:
        by_popularity = config.negative_sampling == "popularity"
        if by_popularity and popularity is None:
            raise ValueError("negative_sampling='popularity' needs the `popularity` array (one weight per item id)")
        negatives = sample_negatives(
            eval_set,
            num_items,
            config.num_negatives,
            config.seed,
            exclude_seen=config.exclude_seen,
            popularity=popularity if by_popularity else None,
        )
        ranks = sampled_ranking_ranks(scorer, eval_set, negatives, batch_size=config.batch_size, progress=progress)
    return ranking_metrics(ranks, config.ks, users=eval_set.users)


def _row_batches(num_rows: int, batch_size: int, description: str, progress: bool) -> Iterator[np.ndarray]:
    """Row indices in batches, with a progress bar when asked for and stderr is a terminal."""
    show = progress and sys.stderr.isatty()
    for start in tqdm(range(0, num_rows, batch_size), desc=description, unit="batch", disable=not show):
        yield np.arange(start, min(start + batch_size, num_rows))


def _check_positive(**values: int | None) -> None:
    for name, value in values.items():
        if value is not None and value < 1:
            raise ValueError(f"{name}={value}: expected a positive integer")


def _check_eval_set(eval_set: EvalSet, num_items: int) -> None:
    """Targets must be real items `1..num_items`; history items at most `num_items`."""
    bad = np.flatnonzero((eval_set.targets < 1) | (eval_set.targets > num_items))
    if len(bad):
        raise ValueError(f"row {bad[0]} has target {eval_set.targets[bad[0]]}; expected an item id in 1..{num_items}")
    history = eval_set.histories.values
    if len(history) and (history.min() < 0 or history.max() > num_items):
        raise ValueError(f"history item ids must lie in 0..{num_items}; found {history.min()}..{history.max()}")
