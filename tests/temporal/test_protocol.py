import numpy as np
import pytest

from baselines.itemknn import ItemKNN, ItemKNNConfig
from baselines.itemknn_incremental import IncrementalItemKNN
from baselines.pop import PopRec, PopRecConfig
from baselines.recency import RecencyConfig
from dynint.data.registry import load_dataset
from dynint.errors import ConfigError
from dynint.temporal.baseline_learner import BaselineLearner
from dynint.temporal.config import TemporalConfig
from dynint.temporal.protocol import WindowResult, evaluate_stream, stream_summary
from dynint.temporal.windows import temporal_stream

KNN = ItemKNNConfig(similarity="asymmetric", neighbors=50, shrink=20.0, alpha=0.4, recency=RecencyConfig("time", 64.0))


@pytest.fixture(scope="module")
def stream(shared_data):
    return temporal_stream(load_dataset("ml-100k", shared_data), TemporalConfig(num_windows=4, cut="events"))


def test_incremental_itemknn_scores_every_window_as_retraining_does_having_read_fewer_events(stream):
    incremental = evaluate_stream(stream, BaselineLearner(lambda: IncrementalItemKNN(KNN), "incremental"))
    retrained = evaluate_stream(stream, BaselineLearner(lambda: ItemKNN(KNN), "retrain"))
    assert [r.metrics for r in incremental] == [r.metrics for r in retrained]
    assert [r.window for r in incremental] == [1, 2, 3]
    assert incremental[0].update_examples == retrained[0].update_examples  # the first fit, on window 0
    later = [r.update_examples for r in incremental[1:]]
    assert later == [int(np.count_nonzero(stream.window == w)) for w in (1, 2)]
    assert sum(later) < sum(r.update_examples for r in retrained[1:])
    assert all(r.metrics["NDCG@10"] > 0.05 for r in incremental)


def test_a_static_model_stops_learning_after_window_0_and_falls_behind(stream):
    static = evaluate_stream(stream, BaselineLearner(lambda: PopRec(PopRecConfig()), "static"))
    retrained = evaluate_stream(stream, BaselineLearner(lambda: PopRec(PopRecConfig()), "retrain"))
    assert static[0].metrics == retrained[0].metrics  # the same fit on window 0
    assert [r.update_examples for r in static[1:]] == [0, 0]
    assert static[-1].metrics != retrained[-1].metrics
    assert [r.new_items for r in static] == [stream.catalogue_size(w) - stream.catalogue_size(w - 1) for w in (1, 2, 3)]


def test_the_learner_is_updated_before_each_window_and_resumes_part_way(stream):
    calls = []

    class Recording(BaselineLearner):
        def update(self, stream, window):
            calls.append(window)
            return super().update(stream, window)

    seen = []
    results = evaluate_stream(
        stream, Recording(lambda: PopRec(PopRecConfig()), "retrain"), on_window=seen.append, first_window=2
    )
    assert calls == [2, 3] and seen == results and [r.window for r in results] == [2, 3]


def test_summary_means_and_areas_over_the_windows():
    results = [
        WindowResult(
            window=w, rows=10, new_items=1, update_time_s=t, update_examples=5, metrics={"NDCG@10": m}, update_cpu_s=c
        )
        for w, (t, c, m) in enumerate([(3.0, 5.0, 0.1), (1.0, 1.5, 0.3), (1.0, 2.0, 0.2)], start=1)
    ]
    summary = stream_summary(results)
    assert summary["mean NDCG@10"] == pytest.approx(0.2)
    assert summary["AUC NDCG@10"] == pytest.approx(((0.1 + 0.3) / 2 + (0.3 + 0.2) / 2) / 2)
    assert summary["update time (s)"] == 5.0 and summary["later update time (s)"] == 2.0
    assert summary["later update CPU time (s)"] == 3.5
    with pytest.raises(ValueError, match="no scored windows"):
        stream_summary([])


def test_incremental_updates_are_refused_for_a_model_without_them():
    with pytest.raises(ConfigError, match="PopRec has no incremental update"):
        BaselineLearner(lambda: PopRec(PopRecConfig()), "incremental")
    with pytest.raises(ConfigError, match="temporal.strategy='sometimes'"):
        BaselineLearner(lambda: PopRec(PopRecConfig()), "sometimes")
