"""Top-k recommendation lists: each evaluation row's `k` best items, what a user would be shown.

Candidates are the items `1..num_items`; with `exclude_seen` the row's history items are not
(the target is an ordinary candidate: the recommender does not know it). Ties go to the lower
item id, as in the ranking protocols. A scorer with a `top_k(users, histories, k, excluded_rows,
excluded_items)` method computes the lists itself (on its device); otherwise the scores of every
item are sorted here.
"""

from __future__ import annotations

import numpy as np

from dynint.data.splits import EvalSet
from dynint.eval.rows import check_eval_set, row_batches
from dynint.eval.scorer import Scorer, checked_output, score_items


def top_k_lists(
    scorer: Scorer,
    eval_set: EvalSet,
    num_items: int,
    k: int,
    *,
    exclude_seen: bool = True,
    keep_targets: bool = False,
    batch_size: int = 256,
    progress: bool = True,
) -> np.ndarray:
    """`(len(eval_set), k)` item ids, best first (see the module notes). With `keep_targets`, a
    row's target stays a candidate even when its history holds it, as the ranking protocols
    rank it: the lists' hits are then exactly the rows ranked below `k`."""
    check_eval_set(eval_set, num_items)
    if not 1 <= k <= num_items:
        raise ValueError(f"k={k}: expected 1..{num_items} (the catalogue's size)")
    lists = np.empty((len(eval_set), k), dtype=np.int64)
    for rows in row_batches(len(eval_set), batch_size, "top-k lists", progress):
        batch = eval_set.take(rows)
        if exclude_seen:
            pair_rows, pair_items = batch.histories.row_ids(), batch.histories.values
            if keep_targets:
                kept = pair_items != batch.targets[pair_rows]
                pair_rows, pair_items = pair_rows[kept], pair_items[kept]
        else:
            pair_rows, pair_items = np.zeros(0, np.int64), np.zeros(0, np.int64)
        if hasattr(scorer, "top_k"):
            found = np.asarray(scorer.top_k(batch.users, batch.histories, k, pair_rows, pair_items))
            lists[rows] = checked_output(found, (len(batch), k), f"{type(scorer).__name__}.top_k")
            continue
        scores = score_items(scorer, batch.users, batch.histories, np.arange(1, num_items + 1)).astype(np.float64)
        scores[pair_rows, pair_items - 1] = -np.inf
        lists[rows] = np.argsort(-scores, axis=1, kind="stable")[:, :k] + 1  # stable: equal scores, lower id first
    return lists
