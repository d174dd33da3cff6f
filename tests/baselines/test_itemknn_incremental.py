import numpy as np
import pytest

from baselines.base import FitData
from baselines.itemknn import ItemKNN, ItemKNNConfig
from baselines.itemknn_incremental import IncrementalItemKNN
from baselines.recency import RecencyConfig
from dynint.data.ragged import Ragged
from dynint.data.registry import load_dataset
from dynint.temporal.config import TemporalConfig
from dynint.temporal.windows import temporal_stream


@pytest.fixture(scope="module")
def stream(shared_data):
    return temporal_stream(load_dataset("ml-100k", shared_data), TemporalConfig(num_windows=10, cut="events"))


def _visible(stream, window: int) -> FitData:
    sequences, times = stream.visible_before(window)
    return FitData(sequences, stream.num_users, stream.catalogue_size(window), None, times)


@pytest.mark.parametrize(
    "config",
    [
        ItemKNNConfig(
            similarity="asymmetric",
            neighbors=255,
            shrink=116.2,
            alpha=0.4,
            normalize="max",
            recency=RecencyConfig("time", 64.65),
        ),
        ItemKNNConfig(similarity="jaccard", neighbors=20, shrink=3.0, normalize="sum"),
    ],
    ids=["tuned-ml-100k", "jaccard-sparse-neighbours"],
)
def test_updates_window_by_window_score_exactly_as_a_refit_on_the_same_events(stream, config):
    incremental = IncrementalItemKNN(config).fit(_visible(stream, 1))
    for window in (2, 3, 6):  # the catalogue and the user base grow on the way
        data = _visible(stream, window)
        incremental.update(data)
        refit = ItemKNN(config).fit(data)
        for name in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(getattr(incremental.similarity, name), getattr(refit.similarity, name))
        rows = np.arange(300)
        eval_set = stream.eval_set(window - 1)  # histories within the fitted events, for time recency
        items = np.arange(1, data.num_items + 1)
        scores = incremental.score(eval_set.users[rows], eval_set.histories.take(rows), items)
        np.testing.assert_array_equal(scores, refit.score(eval_set.users[rows], eval_set.histories.take(rows), items))
        assert np.count_nonzero(scores) > 0.1 * scores.size  # not a trivially equal empty ranking


def test_an_update_that_rewrites_seen_events_is_refused(stream):
    data = _visible(stream, 2)
    model = IncrementalItemKNN(ItemKNNConfig(neighbors=10)).fit(data)
    rewritten = data.sequences.values.copy()
    rewritten[0] = rewritten[0] % data.num_items + 1
    with pytest.raises(ValueError, match="must extend the one seen before"):
        model.update(FitData(Ragged(rewritten, data.sequences.offsets), data.num_users, data.num_items))
    fewer = Ragged.from_lengths(data.sequences.values[:0], np.zeros(data.num_users - 1, dtype=np.int64))
    with pytest.raises(ValueError, match="fewer than"):
        model.update(FitData(fewer, data.num_users - 1, data.num_items))
