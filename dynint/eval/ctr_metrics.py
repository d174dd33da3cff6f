"""Exact click-through-rate metrics: AUC, group AUC (per user) and log loss, all in float64."""

from __future__ import annotations

from typing import Literal

import numpy as np


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the fraction of (positive, negative) pairs ordered correctly,
    a tied pair counting one half (Mann-Whitney U with average ranks)."""
    labels, scores = _check_inputs(labels, scores)
    per_group, positives, negatives = _auc_per_group(np.zeros(len(labels), np.int64), labels, scores)
    if positives[0] == 0 or negatives[0] == 0:
        raise ValueError(f"AUC needs both classes; got {positives[0]} positive and {negatives[0]} negative labels")
    return float(per_group[0])


def gauc(
    users: np.ndarray,
    labels: np.ndarray,
    scores: np.ndarray,
    weighting: Literal["impressions", "uniform"] = "impressions",
) -> float:
    """Group AUC: per-user AUC averaged over users having both classes.

    `weighting="impressions"` weights each user by their number of impressions (the DIN
    paper's GAUC); `"uniform"` weights users equally. Users with one class are skipped.
    """
    if weighting not in ("impressions", "uniform"):
        raise ValueError(f"weighting={weighting!r}; expected 'impressions' or 'uniform'")
    labels, scores = _check_inputs(labels, scores)
    users = np.asarray(users)
    if users.shape != labels.shape:
        raise ValueError(f"users has shape {users.shape} but labels have shape {labels.shape}")
    groups = np.unique(users, return_inverse=True)[1].reshape(-1)
    per_group, positives, negatives = _auc_per_group(groups, labels, scores)
    kept = (positives > 0) & (negatives > 0)
    if not kept.any():
        raise ValueError("GAUC needs at least one user with both positive and negative labels")
    weights = (positives + negatives)[kept] if weighting == "impressions" else np.ones(kept.sum())
    return float(np.sum(per_group[kept] * weights) / np.sum(weights))


def logloss(labels: np.ndarray, probabilities: np.ndarray, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy, probabilities clipped to `[eps, 1 - eps]` so it stays finite."""
    labels, probabilities = _check_inputs(labels, probabilities)
    p = np.clip(probabilities, eps, 1.0 - eps)
    return float(-np.mean(labels * np.log(p) + (1.0 - labels) * np.log1p(-p)))


def _check_inputs(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores as equal-length float64 vectors; labels must be 0/1, scores not NaN."""
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.ndim != 1 or labels.shape != scores.shape or len(labels) == 0:
        raise ValueError(
            f"labels and scores must be non-empty 1-D arrays of equal length; got {labels.shape}, {scores.shape}"
        )
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError(f"labels must be 0 or 1; got values {np.unique(labels)[:10]}")
    if np.isnan(scores).any():
        raise ValueError(f"scores contain {int(np.isnan(scores).sum())} NaN values")
    return labels, scores


def _auc_per_group(
    groups: np.ndarray, labels: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUC of each group `0..G-1` (NaN where a class is missing) and its positive and negative counts.

    One sort by (group, score); each tie run gets the average of its 1-based ranks within its
    group, and U = (sum of positive ranks) - P (P + 1) / 2.
    """
    order = np.lexsort((scores, groups))
    g, s, y = groups[order], scores[order], labels[order]
    n = len(order)
    group_start = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    run_start = np.flatnonzero(np.r_[True, (g[1:] != g[:-1]) | (s[1:] != s[:-1])])
    run_end = np.r_[run_start[1:], n]
    run_of = np.repeat(np.arange(len(run_start)), np.diff(np.r_[run_start, n]))
    first_of_group = np.repeat(group_start, np.diff(np.r_[group_start, n]))
    # Positions run_start..run_end-1 hold 1-based ranks run_start+1..run_end; their mean is below.
    average_rank = (run_start[run_of] + run_end[run_of] + 1) / 2.0 - first_of_group
    num_groups = int(groups.max()) + 1
    positives = np.bincount(g, weights=y, minlength=num_groups)
    negatives = np.bincount(g, weights=1.0 - y, minlength=num_groups)
    positive_rank_sum = np.bincount(g, weights=y * average_rank, minlength=num_groups)
    pairs = positives * negatives
    with np.errstate(invalid="ignore", divide="ignore"):
        per_group = (positive_rank_sum - positives * (positives + 1) / 2.0) / pairs
    return per_group, positives.astype(np.int64), negatives.astype(np.int64)
