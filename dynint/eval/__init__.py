"""Evaluation: ranking and CTR metrics, the `Scorer` interface, and the ranking protocols."""

from dynint.eval.ctr_metrics import auc, gauc, logloss
from dynint.eval.negatives import sample_negatives
from dynint.eval.protocols import RankingProtocol
from dynint.eval.ranking import evaluate_ranking, full_ranking_ranks, sampled_ranking_ranks
from dynint.eval.ranking_metrics import metric_names, ranking_metrics
from dynint.eval.scorer import Scorer, score_candidates, score_items

__all__ = [
    "RankingProtocol",
    "Scorer",
    "auc",
    "evaluate_ranking",
    "full_ranking_ranks",
    "gauc",
    "logloss",
    "metric_names",
    "ranking_metrics",
    "sample_negatives",
    "sampled_ranking_ranks",
    "score_candidates",
    "score_items",
]
