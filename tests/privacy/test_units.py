"""Example-level DP-SGD: one clipped row per next-item prediction, each predicting its own target
from the events before it; the accountant counts predictions, not users."""

import json
from pathlib import Path

import numpy as np
import pytest

from dynint.data.prepared import prepare_data
from dynint.data.ragged import Ragged
from dynint.errors import ConfigError
from dynint.models.base import NextItemObjective
from dynint.privacy.units import prediction_rows
from dynint.runner import run_experiment
from dynint.train.batching import SequenceBatcher
from dynint.train.windows import positions_in_rows
from tests.train.conftest import tiny_config


def test_every_target_is_one_row_with_the_events_before_it():
    sequences = Ragged.from_lengths(np.array([5, 6, 7, 8, 9, 1, 2, 3]), np.array([5, 1, 2]))
    rows, loss_from = prediction_rows(sequences, max_length=2)
    assert [list(row) for row in rows] == [[5, 6], [5, 6, 7], [6, 7, 8], [7, 8, 9], [2, 3]]
    np.testing.assert_array_equal(loss_from, rows.lengths - 1)


def test_the_batcher_predicts_each_target_once_from_its_own_row(tmp_path):
    config = tiny_config(tmp_path)
    data = prepare_data(config)
    train = data.split.visible("valid")
    rows, loss_from = prediction_rows(train, config.train.max_length)
    assert len(rows) == int(np.sum(np.maximum(train.lengths - 1, 0)))
    batcher = SequenceBatcher.for_training(rows, NextItemObjective(), config.train, loss_from=loss_from)
    assert batcher.num_sequences == len(rows)  # the accountant's population: predictions
    targets, weights = [], 0.0
    for batch in batcher.epoch(0, 1):
        weight = np.asarray(batch.token_weight)
        row_of_token = np.asarray(batch.token_index) // batch.item_ids.shape[1]
        counted = weight > 0
        assert len(set(row_of_token[counted])) == int(counted.sum())  # one prediction per row
        targets.append(np.asarray(batch.token_target)[counted])
        weights += float(weight.sum())
    expected = train.values[positions_in_rows(train.lengths) > 0]
    np.testing.assert_array_equal(np.sort(np.concatenate(targets)), np.sort(expected))
    assert weights == len(rows)


def test_an_example_level_run_accounts_per_prediction(tmp_path):
    privacy = {"enabled": True, "clip_norm": 1.0, "noise_multiplier": 1.0, "unit": "example"}
    config = tiny_config(tmp_path, train={"max_epochs": 1, "privacy": privacy})
    run = run_experiment(config, progress=False)
    result = json.loads((Path(run.run_dir) / "result.json").read_text())
    train = prepare_data(config).split.visible("valid")
    predictions = int(np.sum(np.maximum(train.lengths - 1, 0)))
    assert result["extra"]["delta"] == pytest.approx(1 / predictions)
    assert result["extra"]["epsilon"] > 0


def test_example_level_privacy_is_refused_where_it_does_not_apply(tmp_path):
    with pytest.raises(ConfigError, match="train.privacy.unit.*neighbour"):
        tiny_config(tmp_path, train={"privacy": {"enabled": True, "unit": "neighbour"}})
    with pytest.raises(ConfigError, match="a federated client is a user"):
        tiny_config(tmp_path, train={"privacy": {"enabled": True, "unit": "example"}, "federated": {"enabled": True}})
