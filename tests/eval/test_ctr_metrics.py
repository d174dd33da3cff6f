import itertools
import math

import numpy as np
import pytest

from dynint.eval.ctr_metrics import auc, gauc, logloss


def brute_force_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Fraction of (positive, negative) pairs with the positive scored higher, ties counting 1/2."""
    positives, negatives = scores[labels == 1], scores[labels == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(positives, negatives))
    return wins / (len(positives) * len(negatives))


def test_auc_counts_tied_pairs_as_half():
    # positives score 0.9, 0.3, 0.5; negatives 0.9, 0.1. Pairs (pos, neg):
    # (0.9, 0.9) tie 1/2, (0.9, 0.1) 1, (0.3, 0.9) 0, (0.3, 0.1) 1, (0.5, 0.9) 0, (0.5, 0.1) 1 -> 3.5 / 6
    labels = np.array([1, 0, 1, 0, 1])
    scores = np.array([0.9, 0.9, 0.3, 0.1, 0.5])
    assert auc(labels, scores) == pytest.approx(3.5 / 6)


def test_auc_equals_brute_force_pair_counting_on_random_data_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=300)
    scores = np.round(rng.normal(size=300), 1)  # rounding creates many ties
    assert auc(labels, scores) == pytest.approx(brute_force_auc(labels, scores), abs=1e-12)


def test_auc_rejects_a_single_class():
    with pytest.raises(ValueError, match="both classes"):
        auc(np.ones(4), np.arange(4.0))


# user 0: labels [1, 0, 0], scores [0.8, 0.9, 0.1] -> pairs (0.8, 0.9) 0, (0.8, 0.1) 1 -> AUC 1/2, 3 impressions
# user 1: labels [1, 0], scores [0.7, 0.2] -> AUC 1, 2 impressions
# user 2: labels [1, 1] -> one class, skipped
GAUC_USERS = np.array([0, 1, 0, 2, 1, 0, 2])
GAUC_LABELS = np.array([1, 1, 0, 1, 0, 0, 1])
GAUC_SCORES = np.array([0.8, 0.7, 0.9, 0.4, 0.2, 0.1, 0.6])


def test_gauc_weights_user_aucs_by_impressions():
    # (1/2 * 3 + 1 * 2) / (3 + 2) = 0.7
    assert gauc(GAUC_USERS, GAUC_LABELS, GAUC_SCORES) == pytest.approx(0.7)


def test_gauc_uniform_weighting_averages_users_equally():
    # (1/2 + 1) / 2 = 0.75
    assert gauc(GAUC_USERS, GAUC_LABELS, GAUC_SCORES, weighting="uniform") == pytest.approx(0.75)


def test_gauc_skips_users_with_a_single_class():
    kept = GAUC_USERS != 2
    for weighting in ("impressions", "uniform"):
        assert gauc(GAUC_USERS, GAUC_LABELS, GAUC_SCORES, weighting) == gauc(
            GAUC_USERS[kept], GAUC_LABELS[kept], GAUC_SCORES[kept], weighting
        )


def test_gauc_equals_per_user_brute_force_on_random_data():
    rng = np.random.default_rng(1)
    users = rng.integers(0, 40, size=600)
    labels = rng.integers(0, 2, size=600)
    scores = np.round(rng.normal(size=600), 1)
    per_user, impressions = [], []
    for user in np.unique(users):
        mine = users == user
        if 0 < labels[mine].sum() < mine.sum():
            per_user.append(brute_force_auc(labels[mine], scores[mine]))
            impressions.append(mine.sum())
    expected = np.dot(per_user, impressions) / np.sum(impressions)
    assert gauc(users, labels, scores) == pytest.approx(expected, abs=1e-12)
    assert gauc(users, labels, scores, weighting="uniform") == pytest.approx(np.mean(per_user), abs=1e-12)


def test_gauc_rejects_unknown_weighting():
    with pytest.raises(ValueError, match="weighting"):
        gauc(GAUC_USERS, GAUC_LABELS, GAUC_SCORES, weighting="clicks")


def test_logloss_equals_hand_computed_cross_entropy():
    # labels [1, 0], probabilities [0.8, 0.4] -> -(ln 0.8 + ln 0.6) / 2
    assert logloss(np.array([1, 0]), np.array([0.8, 0.4])) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)


def test_logloss_clips_certain_wrong_predictions_to_stay_finite():
    # label 0 predicted with probability 1 -> clipped to 1 - 1e-7 -> -ln(1e-7)
    assert logloss(np.array([0]), np.array([1.0])) == pytest.approx(-math.log(1e-7), rel=1e-6)


def test_ctr_metrics_reject_labels_other_than_zero_and_one():
    with pytest.raises(ValueError, match="0 or 1"):
        logloss(np.array([2, 0]), np.array([0.5, 0.5]))
