import json

import numpy as np
import pytest
import yaml

from dynint.config import parse_config
from dynint.errors import ConfigError
from dynint.runner import prepare_data, run_experiment


def _config(tmp_path, **overrides):
    raw = {
        "name": "pop",
        "data": {"name": "synthetic", "synthetic": {"num_users": 200, "num_items": 100, "num_clusters": 5}},
        "model": {"name": "poprec"},
        "output_dir": str(tmp_path / "runs"),
    }
    raw.update(overrides)
    return parse_config(raw)


def test_run_writes_resolved_config_provenance_metrics_and_result(tmp_path):
    result = run_experiment(_config(tmp_path), progress=False)
    files = {p.name for p in result.run_dir.iterdir()}
    assert {"config.yaml", "provenance.json", "metrics.jsonl", "result.json"} <= files
    resolved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert resolved["data"]["synthetic"]["num_users"] == 200 and resolved["eval"]["ks"] == [5, 10, 20]
    provenance = json.loads((result.run_dir / "provenance.json").read_text())
    assert {"commit", "versions", "machine", "date"} <= provenance.keys()
    assert provenance["versions"]["numpy"] == np.__version__
    stages = [json.loads(line)["stage"] for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert stages == ["valid", "test"]
    saved = json.loads((result.run_dir / "result.json").read_text())
    assert saved["metrics"]["test"]["NDCG@10"] == result.metrics["test"]["NDCG@10"]


def test_poprec_test_fit_counts_validation_but_never_test_targets(shared_data, tmp_path):
    config = _config(tmp_path, data={"name": "amazon-beauty", "data_dir": str(shared_data)})
    data = prepare_data(config)
    split = data.split
    # What poprec fits on at test time: training plus validation events, i.e. all events minus the test targets.
    visible_counts = np.bincount(split.visible("test").values, minlength=split.num_items + 1)
    all_counts = np.bincount(split.all_events.values, minlength=split.num_items + 1)
    test_counts = np.bincount(split.test.targets, minlength=split.num_items + 1)
    np.testing.assert_array_equal(visible_counts, all_counts - test_counts)
    fair = run_experiment(config, data=data, progress=False)
    leaky = run_experiment(
        _config(tmp_path, name="leaky", data={"name": "amazon-beauty"}, split={"fit_on_all_interactions": True}),
        data=data,
        progress=False,
    )
    assert leaky.leaky and not fair.leaky
    assert fair.metrics["test"]["NDCG@10"] != leaky.metrics["test"]["NDCG@10"]


def test_baselines_fit_with_the_timestamps_of_the_visible_events(tmp_path):
    # Time-decayed ItemKNN reads each history's times from the fit data and fails on a mismatch.
    model = {"name": "itemknn", "recency": {"kind": "time", "half_life": 86400.0}}
    result = run_experiment(_config(tmp_path, name="knn", model=model), progress=False)
    assert result.metrics["test"]["HR@20"] > 0


def test_a_protocol_the_baseline_does_not_declare_fails_loudly(tmp_path, monkeypatch):
    import baselines
    from baselines.pop import PopRec, PopRecConfig

    class FullRankingOnly(PopRec):
        protocols = frozenset({"full"})

    monkeypatch.setattr(baselines, "BASELINES", {**baselines.BASELINES, "poprec": (PopRecConfig, FullRankingOnly)})
    with pytest.raises(ConfigError, match="eval.kind='sampled': FullRankingOnly supports full"):
        run_experiment(_config(tmp_path, eval={"kind": "sampled"}), progress=False)
