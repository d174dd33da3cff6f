"""Metrics of the multitask models on CTR samples with ratings: engagement AUC on every sample,
like AUC on the engaged samples, CTCVR AUC (engaged and liked, scored by pCTR x pLike) on every
sample, rating RMSE on the engaged samples, and the mean gate weight of every expert."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from dynint.data.task_labels import ctcvr_labels, engaged, like_labels
from dynint.eval.ctr_metrics import auc


def multitask_metric_names(tasks: Sequence[str]) -> tuple[str, ...]:
    """The metrics a model trained on `tasks` is evaluated on. `mean_AUC` averages its engagement
    and like AUCs; `neg_rating_RMSE` is minus the RMSE, for early stopping (higher is better)."""
    names = [f"{task}_AUC" for task in ("engagement", "like") if task in tasks]
    if {"engagement", "like"} <= set(tasks):
        names.append("CTCVR_AUC")
    if names:
        names.append("mean_AUC")
    if "rating" in tasks:
        names += ["rating_RMSE", "neg_rating_RMSE"]
    return tuple(names)


def multitask_metrics(
    labels: np.ndarray, ratings: np.ndarray, outputs: Mapping[str, np.ndarray], like_threshold: float
) -> dict[str, float]:
    """The metrics of `multitask_metric_names(outputs)`: `outputs` holds the engagement and like
    logits (for ESMM, pCTR's and pCVR's) and predicted ratings the model has, one per sample."""
    labels = np.asarray(labels, np.float64)
    ratings = np.asarray(ratings, np.float64)
    mask = engaged(labels)
    metrics = {}
    if "engagement" in outputs:
        metrics["engagement_AUC"] = auc(labels, outputs["engagement"])
    if "like" in outputs:
        metrics["like_AUC"] = auc(like_labels(labels, ratings, like_threshold)[mask], outputs["like"][mask])
    if "engagement" in outputs and "like" in outputs:
        # log(pCTR x pLike) orders samples as the product does, without rounding products to ties.
        log_ctcvr = _log_sigmoid(outputs["engagement"]) + _log_sigmoid(outputs["like"])
        metrics["CTCVR_AUC"] = auc(ctcvr_labels(labels, ratings, like_threshold), log_ctcvr)
    aucs = [metrics[name] for name in ("engagement_AUC", "like_AUC") if name in metrics]
    if aucs:
        metrics["mean_AUC"] = float(np.mean(aucs))
    if "rating" in outputs:
        errors = np.asarray(outputs["rating"], np.float64)[mask] - ratings[mask]
        metrics["rating_RMSE"] = float(np.sqrt(np.mean(errors**2)))
        metrics["neg_rating_RMSE"] = -metrics["rating_RMSE"]
    return metrics


def expert_utilisation(gates: Mapping[str, np.ndarray]) -> dict[str, list[float]]:
    """Each gate's mean weight per expert over the samples (`gates[name]` `(N, experts)`)."""
    return {
        name: [float(w) for w in np.mean(np.asarray(weights, np.float64), axis=0)] for name, weights in gates.items()
    }


def _log_sigmoid(logits: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -np.asarray(logits, np.float64))
