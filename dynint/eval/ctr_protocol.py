"""The CTR protocol (as in the DIEN paper): how samples are drawn, and AUC, GAUC and log loss of
a model's click probabilities on them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize

from dynint.errors import ConfigError
from dynint.eval.ctr_metrics import auc, gauc, logloss

CTR_METRICS: tuple[str, ...] = ("AUC", "GAUC", "logloss")
HIGHER_IS_BETTER = ("AUC", "GAUC")


@dataclass(frozen=True)
class CTRProtocol:
    """Each positive (a true next item) comes with `negatives_per_positive` sampled items the
    user never interacted with; `seed` fixes those draws, so every model sees the same samples.
    `batch_size` bounds the memory of prediction only."""

    negatives_per_positive: int = 1
    seed: int = 0
    batch_size: int = 1024

    def __post_init__(self) -> None:
        if self.negatives_per_positive < 1:
            raise ConfigError(f"ctr.negatives_per_positive={self.negatives_per_positive!r}: expected >= 1")
        if self.batch_size < 1:
            raise ConfigError(f"ctr.batch_size={self.batch_size!r}: expected a positive integer")


def ctr_metrics(users: np.ndarray, labels: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """AUC, GAUC (per user, impression-weighted, single-class users skipped) and log loss."""
    logits = np.asarray(logits, dtype=np.float64)
    probabilities = 1.0 / (1.0 + np.exp(-logits))
    return {
        "AUC": auc(labels, logits),
        "GAUC": gauc(users, labels, logits),
        "logloss": logloss(labels, probabilities),
    }


def fit_logistic_calibration(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """`(scale, bias)` minimising the log loss of `sigmoid(scale * score + bias)` on `labels`
    (Platt scaling): how a scorer whose scores are not probabilities, such as a baseline's
    similarities, gets a log loss. Fit it on validation samples only; AUC and GAUC do not change,
    the map being increasing whenever `scale > 0`."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    spread = scores.std() or 1.0  # fit on standardised scores for a well-conditioned problem
    features = np.stack([scores / spread, np.ones_like(scores)], axis=1)

    def loss_and_gradient(weights: np.ndarray) -> tuple[float, np.ndarray]:
        logits = features @ weights
        loss = np.mean(np.logaddexp(0.0, logits) - labels * logits)
        return loss, features.T @ (1.0 / (1.0 + np.exp(-logits)) - labels) / len(labels)

    fitted = scipy.optimize.minimize(loss_and_gradient, np.zeros(2), jac=True, method="BFGS")
    return float(fitted.x[0] / spread), float(fitted.x[1])
