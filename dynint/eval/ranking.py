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

import numpy as np

from dynint.data.splits import EvalSet
from dynint.errors import ConfigError
from dynint.eval.beyond_accuracy import LIST_METRICS, CatalogueFacts, activity_metrics, beyond_accuracy_metrics
from dynint.eval.negatives import sample_negatives
from dynint.eval.protocols import RankingProtocol
from dynint.eval.ranking_metrics import ranking_metrics
from dynint.eval.rerank import mmr
from dynint.eval.rows import check_eval_set, row_batches, sorted_unique_keys
from dynint.eval.scorer import Scorer, checked_output, score_candidates, score_items
from dynint.eval.top_k import top_k_lists


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
    check_eval_set(eval_set, num_items)
    _check_positive(batch_size=batch_size, item_chunk_size=item_chunk_size)
    chunk = num_items if item_chunk_size is None else item_chunk_size
    chunks = [(low, min(low + chunk, num_items + 1)) for low in range(1, num_items + 1, chunk)]
    ranks = np.empty(len(eval_set), dtype=np.int64)
    for rows in row_batches(len(eval_set), batch_size, "full ranking", progress):
        ranks[rows] = _full_ranks_of_batch(scorer, eval_set.take(rows), chunks, exclude_seen)
    return ranks


def _full_ranks_of_batch(
    scorer: Scorer, batch: EvalSet, chunks: list[tuple[int, int]], exclude_seen: bool
) -> np.ndarray:
    """Ranks of a batch's targets. A scorer with a `full_ranks` method (see `dynint.eval.scorer`)
    computes them itself when items are not chunked, given the pairs to exclude."""
    targets = batch.targets
    pair_rows, pair_items = _excluded_pairs(batch, chunks[-1][1], exclude_seen)
    if len(chunks) == 1 and hasattr(scorer, "full_ranks"):
        ranks = np.asarray(scorer.full_ranks(batch.users, batch.histories, targets, pair_rows, pair_items))
        return checked_output(ranks, (len(batch),), f"{type(scorer).__name__}.full_ranks")

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


def _excluded_pairs(batch: EvalSet, stride: int, exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
    """`(rows, items)` of the pairs that are no candidates, unique and sorted: each row's target
    (never its own competitor, even should a second scoring of it differ slightly) and, with
    `exclude_seen`, its history items. `stride` exceeds every item id."""
    pair_rows, pair_items = [np.arange(len(batch))], [batch.targets]
    if exclude_seen:
        pair_rows.append(batch.histories.row_ids())
        pair_items.append(batch.histories.values)
    pairs = sorted_unique_keys(np.concatenate(pair_rows) * stride + np.concatenate(pair_items))
    return pairs // stride, pairs % stride


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
    for rows in row_batches(len(eval_set), batch_size, "sampled ranking", progress):
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


def evaluate_ranking(
    scorer: Scorer,
    eval_set: EvalSet,
    num_items: int,
    config: RankingProtocol,
    *,
    popularity: np.ndarray | None = None,
    catalogue: CatalogueFacts | None = None,
    progress: bool = True,
) -> dict[str, float]:
    """Run the ranking protocol `config` and return `ranking_metrics` at `config.ks`, and the
    beyond-accuracy metrics of `config.beyond_accuracy` of each row's top-`max(ks)` list.

    `popularity` (indexed by item id) is required for, and only used by,
    `negative_sampling="popularity"`; `catalogue` (the events visible at this stage) for, and
    only by, the beyond-accuracy metrics.
    """
    if config.rerank.kind != "none":
        return _reranked_metrics(scorer, eval_set, num_items, config, catalogue, progress)
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
    metrics = ranking_metrics(ranks, config.ks, users=eval_set.users)
    if "activity" in config.beyond_accuracy:
        metrics.update(activity_metrics(ranks, eval_set.histories.lengths, config.ks))
    if set(config.beyond_accuracy) & set(LIST_METRICS):
        if catalogue is None:
            raise ValueError("eval.beyond_accuracy needs the catalogue's facts (`catalogue`)")
        lists = top_k_lists(
            scorer,
            eval_set,
            num_items,
            min(max(config.ks), num_items),
            exclude_seen=config.exclude_seen,
            batch_size=config.batch_size,
            progress=progress,
        )
        ks = tuple(k for k in config.ks if k <= lists.shape[1])
        metrics.update(beyond_accuracy_metrics(lists, ks, config.beyond_accuracy, catalogue))
    return metrics


def _check_positive(**values: int | None) -> None:
    for name, value in values.items():
        if value is not None and value < 1:
            raise ValueError(f"{name}={value}: expected a positive integer")


def _reranked_metrics(
    scorer: Scorer,
    eval_set: EvalSet,
    num_items: int,
    config: RankingProtocol,
    catalogue: CatalogueFacts | None,
    progress: bool,
) -> dict[str, float]:
    """Metrics of the re-ranked top `max(ks)` lists: a row's rank is its target's place in its list
    (`max(ks)` where it is missing), so the accuracy metrics at every K <= max(ks) are exact."""
    if catalogue is None or catalogue.features is None:
        raise ConfigError("eval.rerank needs item features (genres, categories, ...) to measure similarity")
    k = min(max(config.ks), num_items)
    candidates = top_k_lists(
        scorer,
        eval_set,
        num_items,
        min(max(config.rerank.candidates, k), num_items),
        exclude_seen=config.exclude_seen,
        keep_targets=True,
        batch_size=config.batch_size,
        progress=progress,
    )
    scores = np.empty(candidates.shape, dtype=np.float64)
    for rows in row_batches(len(eval_set), config.batch_size, "re-ranking scores", progress):
        batch = eval_set.take(rows)
        scores[rows] = score_candidates(scorer, batch.users, batch.histories, candidates[rows])
    lists = mmr(candidates, scores, catalogue.features, k, config.rerank.trade_off)
    hit = lists == eval_set.targets[:, None]
    ranks = np.where(hit.any(axis=1), hit.argmax(axis=1), k)
    ks = tuple(size for size in config.ks if size <= k)
    metrics = ranking_metrics(ranks, ks, users=eval_set.users)
    if "activity" in config.beyond_accuracy:
        metrics.update(activity_metrics(ranks, eval_set.histories.lengths, ks))
    if set(config.beyond_accuracy) & set(LIST_METRICS):
        metrics.update(beyond_accuracy_metrics(lists, ks, config.beyond_accuracy, catalogue))
    return metrics
