"""Runs of configs with a `temporal` section, end to end through `run_experiment`."""

import json

import numpy as np
import pytest

from dynint.config import parse_config
from dynint.errors import ConfigError
from dynint.runner import run_experiment
from dynint.temporal.protocol import stream_metric_names

SMALL_SYNTHETIC = {"num_users": 300, "num_items": 120, "num_clusters": 6, "sequence_length": 25, "seed": 3}


def _config(tmp_path, model, strategy, **overrides):
    raw = {
        "name": f"stream-{strategy}",
        "data": {"name": "synthetic", "synthetic": SMALL_SYNTHETIC},
        "eval": {"kind": "full", "ks": [10]},
        "model": model,
        "temporal": {"num_windows": 4, "strategy": strategy},
        "output_dir": str(tmp_path / "runs"),
        **overrides,
    }
    return parse_config(raw)


KNN = {"name": "itemknn", "similarity": "asymmetric", "neighbors": 40, "shrink": 5.0, "alpha": 0.4}


def test_a_stream_run_logs_every_window_and_reports_drift_buckets_and_switch_lag(tmp_path):
    result = run_experiment(_config(tmp_path, KNN, "incremental"), progress=False)
    saved = json.loads((result.run_dir / "result.json").read_text())
    assert saved["status"] == "finished"
    windows = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    scored = [w for w in windows if w["stage"] == "window"]
    assert [w["window"] for w in scored] == [1, 2, 3]
    test = saved["metrics"]["test"]
    assert set(stream_metric_names((10,))) <= set(test)
    assert test["mean NDCG@10"] == pytest.approx(np.mean([w["metrics"]["NDCG@10"] for w in scored]))
    assert 0.05 < test["mean NDCG@10"] < 1 and saved["metrics"]["valid"]["NDCG@10"] > 0
    extra = saved["extra"]
    buckets = extra["drift_buckets"]["metrics"]
    assert sum(b["rows"] for b in buckets.values()) == sum(w["rows"] for w in scored)
    lag = extra["switch_lag"]
    assert lag["switches"] > 0 and 0 <= lag["mean lag"] <= 6
    assert extra["switch lag (events)"] == lag["mean lag per user"]


def test_incremental_and_retrained_itemknn_streams_score_alike(tmp_path):
    incremental = run_experiment(_config(tmp_path, KNN, "incremental"), progress=False)
    retrained = run_experiment(_config(tmp_path, KNN, "retrain"), progress=False)
    metrics = {key: value for key, value in incremental.metrics["test"].items() if "time" not in key}
    assert metrics["update examples"] < retrained.metrics["test"]["update examples"]
    del metrics["update examples"]
    assert metrics == {key: retrained.metrics["test"][key] for key in metrics}


def test_a_log_without_timestamps_is_refused_and_leaves_no_run_folder(tmp_path, shared_data):
    config = _config(
        tmp_path, {"name": "poprec"}, "retrain", data={"name": "amazon-beauty", "data_dir": str(shared_data)}
    )
    with pytest.raises(ConfigError, match="needs event timestamps"):
        run_experiment(config, progress=False)
    assert not any((tmp_path / "runs").rglob("*.json"))


def test_strategies_a_model_cannot_follow_are_refused_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match="temporal.strategy='finetune'"):
        run_experiment(_config(tmp_path, {"name": "poprec"}, "finetune"), progress=False)
    with pytest.raises(ConfigError, match="PopRec has no incremental update"):
        run_experiment(_config(tmp_path, {"name": "poprec"}, "incremental"), progress=False)
    with pytest.raises(ConfigError, match="temporal.num_windows=1"):
        _config(tmp_path, KNN, "retrain", temporal={"num_windows": 1})
