"""Seeded negative sampling for the sampled-ranking protocol, independent of evaluation batch size."""

from __future__ import annotations

import numpy as np

from dynint.data.splits import EvalSet
from dynint.eval.rows import check_eval_set, sorted_unique_keys

# Rejection sampling of negatives: draws per block, rounds before the exact per-row fallback,
# and the acceptance rate below which a row goes straight to the fallback.
_MAX_DRAWS_PER_BLOCK = 1 << 22
_MAX_REJECTION_ROUNDS = 10
_MIN_ACCEPTANCE = 0.05


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
    check_eval_set(eval_set, num_items)
    if num_negatives < 0:
        raise ValueError(f"num_negatives={num_negatives}: expected a non-negative integer")
    weights = _sampling_weights(popularity, num_items)
    num_rows = len(eval_set)
    stride = num_items + 1  # (row, item) pairs are handled as sorted keys row * stride + item
    key_rows, key_items = [np.arange(num_rows)], [eval_set.targets]
    if exclude_seen:
        key_rows.append(eval_set.histories.row_ids())
        key_items.append(eval_set.histories.values)
    taken = sorted_unique_keys(np.concatenate(key_rows) * stride + np.concatenate(key_items))

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
