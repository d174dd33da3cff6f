"""NeuralLearner on a small synthetic stream: window-0 epochs, growth, and what each strategy trains."""

import json
from dataclasses import replace

import jax
import numpy as np
import pytest

from dynint.config import parse_config
from dynint.data.loading import load_interactions
from dynint.errors import ConfigError
from dynint.temporal.neural_learner import NeuralLearner
from dynint.temporal.windows import temporal_stream

SASREC = {"name": "sasrec", "loss": "ce", "hidden_size": 16, "num_layers": 1, "num_heads": 2, "inner_size": 32}


def _config(strategy, model=SASREC):
    return parse_config(
        {
            "data": {
                "name": "synthetic",
                "synthetic": {"num_users": 150, "num_items": 90, "num_clusters": 5, "seed": 1},
            },
            "eval": {"kind": "full", "ks": [10]},
            "model": model,
            "train": {"batch_size": 64, "max_length": 20, "max_epochs": 2, "patience": 1, "learning_rate": 0.01},
            "temporal": {"num_windows": 3, "strategy": strategy, "replay_fraction": 0.5},
        }
    )


@pytest.fixture(scope="module")
def stream():
    config = _config("static")
    return temporal_stream(load_interactions(config.data), config.temporal)


def _scores(learner, stream, window):
    rows = stream.eval_set(window)
    return learner.scorer().score(
        rows.users[:20], rows.histories.take(np.arange(20)), np.arange(1, stream.catalogue_size(1) + 1)
    )


@pytest.mark.parametrize("strategy", ["static", "finetune", "retrain"])
def test_each_strategy_grows_the_table_and_trains_as_it_says(tmp_path, stream, strategy):
    config = _config(strategy)
    learner = NeuralLearner(config, config.temporal, stream, tmp_path, progress=False)
    first = learner.update(stream, 1)
    assert 1 <= learner.epochs <= 2 and learner.validation["NDCG@10"] > 0
    assert first > 0
    table_rows = {np.shape(leaf)[0] for leaf in _leaves(learner._params) if np.ndim(leaf) == 2}
    assert stream.catalogue_size(1) + 1 in table_rows  # padding row plus every item known by window 1
    before = _scores(learner, stream, 1)
    second = learner.update(stream, 2)
    after = _scores(learner, stream, 1)
    if strategy == "static":
        assert second == 0
        np.testing.assert_array_equal(after, before)  # growing the table changes nothing of the old items
    elif strategy == "finetune":
        new_events = int(np.count_nonzero(stream.window == 1))
        assert new_events <= second < first  # the new window's events (and some replay), once
        assert not np.allclose(after, before)
    else:
        sequences, _ = stream.visible_before(2)
        per_epoch = int(np.sum(np.maximum(np.minimum(sequences.lengths, 21) - 1, 0)))  # last max_length + 1 items
        assert second == learner.epochs * per_epoch and not np.allclose(after, before)
    assert stream.catalogue_size(2) + 1 in {
        np.shape(leaf)[0] for leaf in _leaves(learner._params) if np.ndim(leaf) == 2
    }


def _leaves(params):
    return jax.tree.leaves(params)


def test_models_and_strategies_the_stream_cannot_grow_are_refused(tmp_path, stream):
    config = _config("incremental")
    with pytest.raises(ConfigError, match="temporal.strategy='incremental'"):
        NeuralLearner(config, config.temporal, stream, tmp_path, progress=False)
    config = _config("retrain", model={"name": "bert4rec", "hidden_size": 16, "num_layers": 1, "num_heads": 2})
    learner = NeuralLearner(config, replace(config.temporal), stream, tmp_path, progress=False)
    with pytest.raises(ConfigError, match="cloze"):
        learner.update(stream, 1)


def _item_tables(params):
    return [np.asarray(leaf) for leaf in _leaves(params) if np.ndim(leaf) == 2 and np.shape(leaf)[1] == 16]


@pytest.mark.parametrize("strategy", ["finetune", "retrain"])
def test_reserved_rows_keep_shapes_fixed_and_stay_untrained(tmp_path, stream, strategy):
    config = _config(strategy)
    temporal = replace(config.temporal, item_capacity_step=64)
    learner = NeuralLearner(config, temporal, stream, tmp_path, progress=False)
    sizes = [stream.catalogue_size(w) for w in range(3)]
    learner.update(stream, 1)
    shapes, params = learner._shapes, learner._params
    capacity = 64 * -(-sizes[1] // 64)
    assert capacity > sizes[1]  # the test needs reserved rows
    assert any(table.shape[0] == capacity + 1 for table in _item_tables(params))
    _, fresh = learner._build(sizes[1], window=0)
    for trained, initial in zip(_item_tables(params), _item_tables(fresh), strict=True):
        # Rows of items not yet seen were never in a softmax: they are still their initial values.
        np.testing.assert_array_equal(trained[sizes[1] + 1 :], initial[sizes[1] + 1 :])
        assert not np.array_equal(trained[1 : sizes[0] + 1], initial[1 : sizes[0] + 1])
    scores = learner.scorer().score(np.arange(3), stream.eval_set(1).histories.take(np.arange(3)), np.arange(1, 5))
    assert scores.shape == (3, 4)
    learner.update(stream, 2)
    assert learner._shapes == shapes  # every fit of the stream batches in the first fit's shapes
    if 64 * -(-sizes[2] // 64) == capacity:
        assert [t.shape for t in _item_tables(learner._params)] == [t.shape for t in _item_tables(params)]
    assert learner.scorer().table.shape[0] == sizes[2] + 1  # only the catalogue is ranked


def _adam_count(opt_state):
    counts = [
        int(leaf)
        for leaf in _leaves(opt_state)
        if np.ndim(leaf) == 0 and np.issubdtype(np.asarray(leaf).dtype, np.integer)
    ]
    return max(counts)


def test_a_carried_optimizer_state_continues_across_windows_and_grows_with_the_table(tmp_path, stream):
    config = _config("finetune")
    counts = {}
    for carry in (False, True):
        temporal = replace(config.temporal, carry_optimizer_state=carry, item_capacity_step=64)
        learner = NeuralLearner(config, temporal, stream, tmp_path / str(carry), progress=False)
        learner.update(stream, 1)
        first = None if learner._opt_state is None else _adam_count(learner._opt_state)
        learner.update(stream, 2)
        counts[carry] = (first, None if learner._opt_state is None else _adam_count(learner._opt_state))
        if carry:
            table_rows = learner._params["embed"]["items"]["embedding"].shape
            moments = [
                np.shape(leaf)
                for path, leaf in jax.tree_util.tree_flatten_with_path(learner._opt_state)[0]
                if "items" in jax.tree_util.keystr(path) and "embedding" in jax.tree_util.keystr(path)
            ]
            assert moments == [table_rows, table_rows]  # Adam's mu and nu, grown with the table
    assert counts[False] == (None, None)  # nothing carried: every fine-tune starts afresh
    first, second = counts[True]
    assert 0 < first < second  # the fine-tune's steps counted on from the first fit's


def test_a_finetune_with_patience_stops_on_the_new_windows_latest_events_and_trains_them_next(tmp_path, stream):
    config = _config("finetune")
    temporal = replace(config.temporal, finetune_epochs=6, finetune_patience=1, replay_fraction=0.0)
    learner = NeuralLearner(config, temporal, stream, tmp_path, progress=False)
    learner.update(stream, 1)
    assert learner._trained_until == stream.starts[1]
    cut, valid = stream.latest_events(1, temporal.valid_fraction)
    sequences, loss_from = learner._new_and_replayed(stream, 2, cut)
    # Targets: window 1's events before its latest tenth; the held-out ones are in no sequence.
    assert int(np.sum(sequences.lengths - loss_from)) == np.count_nonzero(
        (stream.window == 1) & (stream.times.values < cut)
    )
    learner.update(stream, 2)
    history = [entry for entry in _fit_history(tmp_path / "window02") if "valid" in entry]
    assert 1 <= len(history) <= 6 and all("NDCG@10" in entry["valid"] for entry in history)
    assert learner._trained_until == cut  # the held-out events are the next fine-tune's first targets
    following, following_from = learner._new_and_replayed(stream, 3, float(stream.starts[3]))
    targets = (stream.times.values >= cut) & (stream.times.values < stream.starts[3])
    assert int(np.sum(following.lengths - following_from)) == np.count_nonzero(targets)


def _fit_history(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
