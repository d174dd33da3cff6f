"""Top-K ranking metrics from the 0-based rank of each evaluation row's single relevant item."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

METRICS = ("HR", "NDCG", "MRR", "Recall")


def metric_names(ks: Sequence[int]) -> list[str]:
    """Names `ranking_metrics` returns, metric-major: `HR@5, HR@10, ..., NDCG@5, ...`."""
    return [f"{metric}@{k}" for metric in METRICS for k in ks]


def ranking_metrics(ranks: np.ndarray, ks: Sequence[int], users: np.ndarray | None = None) -> dict[str, float]:
    """HR, NDCG, MRR and Recall at each K, as python floats keyed by `metric_names(ks)`.

    `ranks[r]` is the 0-based rank of row `r`'s target. HR, NDCG and MRR average over rows;
    Recall@K averages over users the fraction of each user's rows hit in the top K, so it
    equals HR@K when every user has one row (or when `users` is None).
    """
    ranks = np.asarray(ranks)
    if ranks.ndim != 1 or len(ranks) == 0:
        raise ValueError(f"ranks must be a non-empty 1-D array; got shape {ranks.shape}")
    if not np.issubdtype(ranks.dtype, np.integer) or ranks.min() < 0:
        raise ValueError(f"ranks must be non-negative integers; got dtype {ranks.dtype}, min {ranks.min()}")
    for k in ks:
        if int(k) != k or k < 1:
            raise ValueError(f"every K must be a positive integer; got {k!r}")
    if users is None:
        user_index = np.arange(len(ranks))
    else:
        users = np.asarray(users)
        if users.shape != ranks.shape:
            raise ValueError(f"users has shape {users.shape} but ranks has shape {ranks.shape}")
        user_index = np.unique(users, return_inverse=True)[1].reshape(-1)
    rows_per_user = np.bincount(user_index)

    ranks = ranks.astype(np.float64)
    values: dict[str, float] = {}
    for k in ks:
        hit = ranks < k
        gain = {
            "HR": hit,
            "NDCG": np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0),
            "MRR": np.where(hit, 1.0 / (ranks + 1.0), 0.0),
        }
        for metric, per_row in gain.items():
            values[f"{metric}@{k}"] = float(np.mean(per_row))
        recall_per_user = np.bincount(user_index, weights=hit) / rows_per_user
        values[f"Recall@{k}"] = float(np.mean(recall_per_user))
    return {name: values[name] for name in metric_names(ks)}
