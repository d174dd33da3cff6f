"""Event times on their way to a model that reads them (HSTU's time bias): training batches,
evaluation histories and the scorer carry each event's own time, and data without timestamps
and serving (which does not pass times yet) are refused by name."""

from __future__ import annotations

import numpy as np
import pytest
from flax import nnx

from dynint.data.interactions import Interactions
from dynint.data.loading import make_split
from dynint.data.prepared import PreparedData, prepare_data
from dynint.data.ragged import Ragged
from dynint.errors import ConfigError
from dynint.models.base import TimedItems
from dynint.models.hstu import HSTU, HSTUConfig
from dynint.runner import run_directory, run_experiment
from dynint.serving.loading import RunNotUsable, load
from dynint.train.batching import SequenceBatcher
from dynint.train.scoring import SequenceScorer
from dynint.train.state import split_model
from dynint.train.windows import last_items, left_aligned, relative_times
from tests.train.conftest import tiny_config

LENGTH = 8
TIMED_HSTU = {"name": "hstu", "hidden_size": 16, "num_heads": 2, "dropout": 0.1, "time_buckets": 48}


def _time_of(item: np.ndarray) -> np.ndarray:
    """Each item id is one event; its time grows with it (quadratically, so gaps differ)."""
    return 7 * item.astype(np.float64) ** 2


def _unique_item_sequences(lengths: list[int]) -> tuple[Ragged, Ragged]:
    items = np.arange(1, sum(lengths) + 1)
    return Ragged.from_lengths(items, np.array(lengths)), Ragged.from_lengths(_time_of(items), np.array(lengths))


def test_training_batches_carry_each_input_event_s_time_since_the_row_s_first():
    sequences, times = _unique_item_sequences([3, 12, 5, 9, 2, 20])
    model = HSTU(HSTUConfig(hidden_size=8, time_buckets=48), 100, LENGTH, rngs=nnx.Rngs(params=0))
    batcher = SequenceBatcher(
        sequences, model.objective, max_length=LENGTH, buckets=(4, LENGTH), batch_size=4, max_tokens=64, times=times
    )
    rows = 0
    for batch in batcher.epoch(seed=0, epoch=1):
        assert isinstance(batch.inputs, TimedItems)
        for items, gaps in zip(batch.inputs.items, batch.inputs.times, strict=True):
            real = items > 0
            rows += int(real.any())
            if real.any():
                np.testing.assert_array_equal(gaps[real], _time_of(items[real]) - _time_of(items[real][:1]))
                assert not gaps[~real].any()
    assert rows == 6
    with pytest.raises(ValueError, match="row for row"):
        SequenceBatcher(
            sequences,
            model.objective,
            max_length=LENGTH,
            buckets=(LENGTH,),
            batch_size=4,
            max_tokens=64,
            times=times.take(np.arange(5)),
        )


def test_the_scorer_encodes_histories_with_their_times_as_the_model_does():
    histories, times = _unique_item_sequences([3, 12, 1, 9])
    model = HSTU(HSTUConfig(hidden_size=8, dropout=0.0, time_buckets=48), 100, LENGTH, rngs=nnx.Rngs(params=0))
    for layer in model.layers:
        layer.time_bias[...] = np.linspace(-1.0, 1.0, 48)
    graphdef, params = split_model(model)
    scorer = SequenceScorer(graphdef, params, model.objective, max_length=LENGTH, buckets=(4, LENGTH))
    assert scorer.uses_event_times
    users = np.arange(4)
    scorer.precompute(users, histories, times)
    windows, time_windows = last_items(histories, LENGTH), last_items(times, LENGTH)
    inputs = TimedItems(left_aligned(windows, LENGTH), relative_times(time_windows, LENGTH))
    expected = np.asarray(model(inputs))[np.arange(4), windows.lengths - 1]
    items = np.arange(1, 101)
    table = np.asarray(model.output_table())[items]
    np.testing.assert_allclose(scorer.score(users, histories, items), expected @ table.T, atol=1e-4)
    with pytest.raises(ValueError, match="came without them"):
        scorer.encode(histories)  # no times
    with pytest.raises(ValueError, match="came without them"):
        scorer.score(np.array([7]), histories.take(np.array([0])), items)  # a history that was not precomputed


def test_evaluation_histories_get_the_times_of_the_users_visible_events():
    split = prepare_data(tiny_config("unused")).split
    for stage in ("valid", "test"):
        eval_set, times = split.eval_set(stage), split.history_times(stage)
        np.testing.assert_array_equal(times.lengths, eval_set.histories.lengths)
        np.testing.assert_array_equal(times.values, split.visible_timestamps(stage).take(eval_set.users).values)
        assert np.all(np.diff(times.values)[np.diff(times.row_ids()) == 0] >= 0)  # in event order within a user


def test_a_timed_hstu_trains_and_is_evaluated_and_data_without_timestamps_is_refused(tmp_path):
    config = tiny_config(tmp_path, model=TIMED_HSTU, train={"max_epochs": 2})
    result = run_experiment(config, progress=False)
    assert result.metrics["test"]["NDCG@10"] > 0
    with pytest.raises(RunNotUsable, match="reads event times .* serving does not take request times yet"):
        load(result.run_dir)

    data = prepare_data(config)
    events = data.interactions
    orderless = Interactions.from_raw_ids(events.user, events.item, events.timestamp, has_timestamps=False)
    blind = PreparedData(orderless, make_split(orderless, config.split))
    renamed = tiny_config(tmp_path / "orderless", model=TIMED_HSTU)
    with pytest.raises(ConfigError, match=r"model.time_buckets=48: .* gives event order only"):
        run_experiment(renamed, data=blind, progress=False)
    assert not run_directory(renamed).exists()  # refused before anything was written
