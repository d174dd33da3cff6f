import json

import numpy as np
import pytest

from dynint.config import parse_config
from dynint.data.prepared import prepare_data
from dynint.errors import ConfigError
from dynint.runner import run_experiment


def _config(shared_data, tmp_path, model=None, **train):
    return parse_config(
        {
            "name": "mmoe-small",
            "output_dir": str(tmp_path),
            # ml-100k's heaviest raters only, so that a few epochs take seconds.
            "data": {"name": "ml-100k", "data_dir": str(shared_data), "min_user_interactions": 400},
            "model": model
            or {
                "name": "mmoe",
                "encoder": {"name": "ctr-base", "embedding_size": 4},
                "num_experts": 2,
                "expert_sizes": [8],
                "tower_sizes": [4],
            },
            "train": {
                "batch_size": 256,
                "max_length": 10,
                "max_epochs": 2,
                "early_stopping_metric": "mean_AUC",
                "checkpoint": False,
                **train,
            },
        }
    )


@pytest.fixture(scope="module")
def heavy_raters(shared_data, tmp_path_factory):
    return prepare_data(_config(shared_data, tmp_path_factory.mktemp("data")))


def test_mmoe_trains_on_the_shared_engine_deterministically_and_its_loss_falls(shared_data, tmp_path, heavy_raters):
    runs = [
        run_experiment(_config(shared_data, tmp_path / str(i)), data=heavy_raters, progress=False) for i in range(2)
    ]
    assert runs[0].metrics == runs[1].metrics
    test = runs[0].metrics["test"]
    assert {"engagement_AUC", "like_AUC", "CTCVR_AUC", "rating_RMSE"} <= test.keys()
    log = [json.loads(line) for line in (runs[0].run_dir / "metrics.jsonl").read_text().splitlines()]
    losses = [entry["train_loss"] for entry in log if "train_loss" in entry]
    assert len(losses) == 2 and losses[1] < losses[0]
    extra = runs[0].extra
    assert extra["parameters"] > 0 and extra["train_time_s"] > 0
    assert set(extra["expert_utilisation"]) == {"engagement", "like", "rating"}
    for weights in extra["expert_utilisation"].values():
        assert len(weights) == 2 and np.isclose(sum(weights), 1.0)
    saved = json.loads((runs[0].run_dir / "result.json").read_text())
    assert saved["extra"]["expert_utilisation"] == extra["expert_utilisation"]


def test_early_stopping_must_use_a_metric_of_the_trained_tasks(shared_data, tmp_path, heavy_raters):
    single = {"name": "shared-bottom", "tasks": ["rating"], "encoder": {"name": "ctr-base", "embedding_size": 4}}
    with pytest.raises(ConfigError, match="early_stopping_metric"):
        run_experiment(_config(shared_data, tmp_path, model=single), data=heavy_raters, progress=False)
