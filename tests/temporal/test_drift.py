import numpy as np
import pytest

from dynint.data.ragged import Ragged
from dynint.data.registry import load_dataset
from dynint.errors import ConfigError
from dynint.temporal import drift
from dynint.temporal.config import TemporalConfig
from dynint.temporal.windows import temporal_stream

# Items 1, 2 in category 1; item 3 in category 2; item 4 in both; item 5 in none.
WEIGHTS = np.array([[0, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0.5, 0.5], [0, 0, 0]], dtype=float)


def test_drift_is_zero_for_the_same_mix_one_for_disjoint_mixes_and_undefined_when_short():
    histories = Ragged.from_rows([[1, 2, 1, 2], [1, 1, 3, 3], [1, 3, 4, 4], [1, 2], [5, 5, 1, 2]])
    scores = drift.history_drift(histories, WEIGHTS, recent=2)
    assert scores[0] == 0.0  # earlier and recent both all category 1
    assert scores[1] == pytest.approx(1.0)  # category 1, then category 2
    # earlier (1, 3) = (1/2, 1/2) against recent (4, 4) = (1/2, 1/2): the same mix
    assert scores[2] == pytest.approx(0.0)
    assert np.isnan(scores[3])  # nothing before the recent part
    assert np.isnan(scores[4])  # the earlier part carries no category


def test_rows_fall_in_quantile_buckets_and_short_histories_in_their_own():
    scores = np.array([0.1, 0.2, 0.3, np.nan, 0.9, 0.8, 0.7])
    edges = drift.drift_edges(scores, 2)
    buckets = drift.bucket_of(scores, edges)
    labels = drift.bucket_labels(edges)
    assert labels == ["Q1 (low drift)", "Q2 (high drift)", "short"]
    assert list(buckets) == [0, 0, 0, 2, 1, 1, 1]
    ranks = np.array([0, 0, 0, 5, 20, 20, 20])
    table = drift.metrics_by_bucket(ranks, np.arange(7), buckets, labels, (10,))
    assert table["Q1 (low drift)"]["HR@10"] == 1.0 and table["Q2 (high drift)"]["HR@10"] == 0.0
    assert table["short"]["rows"] == 1


def test_ml100k_genres_give_drift_scores_and_a_log_without_categories_is_refused(shared_data):
    stream = temporal_stream(load_dataset("ml-100k", shared_data), TemporalConfig(num_windows=4))
    weights = drift.item_category_weights(stream.interactions)
    assert weights.shape[0] == stream.interactions.num_items + 1
    np.testing.assert_allclose(weights[1:].sum(axis=1)[weights[1:].sum(axis=1) > 0], 1.0)
    rows = stream.eval_set(3)
    scores = drift.history_drift(rows.histories, weights)
    defined = scores[~np.isnan(scores)]
    assert len(defined) > 0.9 * len(scores) and 0 < defined.mean() < 1
    # Histories of at most `recent` events have no earlier part to compare.
    assert np.isnan(scores[rows.histories.lengths <= 10]).all()
    bare = stream.interactions.__class__(**{**stream.interactions.__dict__, "item_features": None})
    with pytest.raises(ConfigError, match="drift needs an item category feature"):
        drift.item_category_weights(bare)
