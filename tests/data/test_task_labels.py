"""Task labels on real ml-100k: ratings reach the CTR samples, and like is rating >= 4 on engaged
samples only."""

from __future__ import annotations

import numpy as np
import pytest

from dynint.config.schema import DataConfig
from dynint.data.ctr_samples import CTR_STAGES, build_ctr_samples
from dynint.data.loading import load_interactions
from dynint.data.splits import leave_one_out_split
from dynint.data.task_labels import ctcvr_labels, engaged, like_labels


@pytest.fixture(scope="module")
def ml100k(shared_data):
    interactions = load_interactions(DataConfig(name="ml-100k", data_dir=str(shared_data)))
    return interactions, leave_one_out_split(interactions)


@pytest.mark.parametrize("stage", CTR_STAGES)
def test_engaged_samples_carry_their_targets_rating_and_like_is_rating_at_least_4(ml100k, stage):
    interactions, split = ml100k
    samples = build_ctr_samples(split, stage, max_length=20, ratings=interactions.user_ratings())
    # ml-100k has one rating per (user, item), so the raw log names each engaged sample's rating.
    pairs = zip(interactions.user.tolist(), interactions.item.tolist(), strict=True)
    raw = dict(zip(pairs, interactions.rating.tolist(), strict=True))
    mask = engaged(samples.labels)
    expected = [raw[(u, i)] for u, i in zip(samples.users[mask].tolist(), samples.targets[mask].tolist(), strict=True)]
    np.testing.assert_array_equal(samples.ratings[mask], expected)
    likes = like_labels(samples.labels, samples.ratings, 4.0)
    np.testing.assert_array_equal(likes[mask], samples.ratings[mask] >= 4)
    assert 0.3 < likes[mask].mean() < 0.8  # both classes are well represented among engaged samples
    # Sampled negatives were never rated; their like label is undefined, and CTCVR's is 0.
    assert np.all(samples.ratings[~mask] == 0)
    assert np.all(ctcvr_labels(samples.labels, samples.ratings, 4.0)[~mask] == 0)


def test_ratings_of_other_events_than_the_splits_are_refused(ml100k):
    interactions, split = ml100k
    fewer = interactions.select(np.arange(len(interactions)) % 10 != 0).user_ratings()
    with pytest.raises(ValueError, match="one entry per event"):
        build_ctr_samples(split, "test", max_length=20, ratings=fewer)
