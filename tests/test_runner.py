import json

import numpy as np
import pytest
import yaml

from dynint.config import parse_config
from dynint.data.prepared import prepare_data
from dynint.errors import ConfigError
from dynint.runner import run_experiment


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
    assert not (tmp_path / "runs").exists()  # a run that fails before its fit leaves nothing behind


@pytest.fixture(scope="module")
def itemknn_ctr_ml100k(shared_data, tmp_path_factory):
    from dynint.config import load_config
    from dynint.reproduce.tables import EXPERIMENTS_DIR

    output_dir = tmp_path_factory.mktemp("ctr")
    config = load_config(
        EXPERIMENTS_DIR / "ctr-auc" / "itemknn-ml-100k.yaml",
        [f"data.data_dir={shared_data}", f"output_dir={output_dir}"],
    )
    return config, prepare_data(config)


def test_itemknn_scores_the_ctr_models_samples_well_above_chance_at_every_batch_size(itemknn_ctr_ml100k):
    from dataclasses import replace

    from dynint.data.ctr_samples import build_ctr_data

    config, data = itemknn_ctr_ml100k
    results = [
        run_experiment(replace(config, ctr=replace(config.ctr, batch_size=size)), data=data, progress=False)
        for size in (7, 1000, 5000)
    ]
    assert results[0].metrics["test"]["AUC"] > 0.8 and results[0].metrics["valid"]["AUC"] > 0.8
    assert results[1].metrics == results[0].metrics and results[2].metrics == results[0].metrics
    models_data = build_ctr_data(data.split, None, max_length=config.train.max_length, seed=config.ctr.seed)
    assert results[0].extra["samples"] == {"valid": len(models_data.valid), "test": len(models_data.test)}
    assert results[0].extra["calibration"]["fitted_on"] == "valid" and results[0].extra["calibration"]["scale"] > 0
    assert 0 < results[0].metrics["test"]["logloss"] < np.log(2)  # better than a constant 0.5


def test_calibration_is_fitted_on_the_validation_scores_only(itemknn_ctr_ml100k, monkeypatch):
    import dynint.runner as runner

    config, data = itemknn_ctr_ml100k
    scored, calibrated = [], []
    score, calibrate = runner.score_ctr_samples, runner.fit_logistic_calibration
    monkeypatch.setattr(runner, "score_ctr_samples", lambda *args: scored.append(score(*args)) or scored[-1])
    monkeypatch.setattr(runner, "fit_logistic_calibration", lambda s, y: calibrated.append(s) or calibrate(s, y))
    run_experiment(config, data=data, progress=False)
    valid_scores, test_scores = scored
    assert len(calibrated) == 1 and calibrated[0] is valid_scores
    assert not np.array_equal(valid_scores, test_scores)


def test_ctr_evaluation_is_for_baselines_only(tmp_path):
    config = _config(tmp_path, model={"name": "sasrec"}, eval={"kind": "ctr"})
    with pytest.raises(ConfigError, match="eval.kind='ctr' is for baselines"):
        run_experiment(config, progress=False)


def test_a_neural_run_whose_model_settings_fail_leaves_no_run_folder(tmp_path):
    from tests.train.conftest import tiny_config

    with pytest.raises(ConfigError, match="train.early_stopping_metric='NDCG@3'"):
        run_experiment(tiny_config(tmp_path / "runs", train={"early_stopping_metric": "NDCG@3"}), progress=False)
    assert list(tmp_path.iterdir()) == []
