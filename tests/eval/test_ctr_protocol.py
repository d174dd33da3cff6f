"""The logistic calibration that gives a non-probabilistic scorer a log loss under the CTR protocol."""

from __future__ import annotations

import numpy as np

from dynint.eval.ctr_metrics import auc, logloss
from dynint.eval.ctr_protocol import ctr_metrics, fit_logistic_calibration


def test_calibration_recovers_the_logistic_model_the_labels_were_drawn_from():
    rng = np.random.default_rng(0)
    scores = rng.gamma(2.0, 0.05, size=200_000)  # similarity-like: positive, small, skewed
    labels = (rng.random(len(scores)) < 1.0 / (1.0 + np.exp(-(30.0 * scores - 2.0)))).astype(np.float32)
    scale, bias = fit_logistic_calibration(scores, labels)
    assert abs(scale - 30.0) < 1.0 and abs(bias + 2.0) < 0.1


def test_calibrated_scores_keep_auc_and_beat_a_constant_probability():
    rng = np.random.default_rng(1)
    labels = np.repeat([1.0, 0.0], 500)
    scores = np.where(labels == 1, rng.normal(0.3, 0.1, 1000), rng.normal(0.1, 0.1, 1000))
    scale, bias = fit_logistic_calibration(scores, labels)
    metrics = ctr_metrics(np.arange(1000) % 500, labels, scale * scores + bias)  # user u: rows u and u + 500
    assert scale > 0 and metrics["AUC"] == auc(labels, scores)
    assert metrics["logloss"] < logloss(labels, np.full(1000, 0.5))
