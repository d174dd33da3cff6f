import json

import pytest

from dynint.config import parse_config
from dynint.config.loader import config_to_dict
from dynint.data.prepared import prepare_data
from dynint.errors import ConfigError
from dynint.runner import run_experiment


def _config(shared_data, tmp_path, **train):
    return parse_config(
        {
            "name": "din-small",
            "output_dir": str(tmp_path),
            # ml-100k's heaviest raters only, so that a few epochs take seconds.
            "data": {"name": "ml-100k", "data_dir": str(shared_data), "min_user_interactions": 400},
            "model": {"name": "din", "embedding_size": 8, "mlp_sizes": [32, 16], "attention_sizes": [16]},
            "train": {"batch_size": 128, "max_length": 10, "max_epochs": 2, "early_stopping_metric": "AUC", **train},
        }
    )


@pytest.fixture(scope="module")
def heavy_raters(shared_data, tmp_path_factory):
    config = _config(shared_data, tmp_path_factory.mktemp("data"))
    return prepare_data(config)


def test_din_trains_on_the_shared_engine_and_is_deterministic(shared_data, tmp_path, heavy_raters):
    runs = [
        run_experiment(_config(shared_data, tmp_path / str(i), checkpoint=False), data=heavy_raters, progress=False)
        for i in range(2)
    ]
    assert runs[0].metrics == runs[1].metrics
    users = heavy_raters.split.num_users
    assert runs[0].extra["samples"]["valid"] == runs[0].extra["samples"]["test"] == 2 * users
    assert {"AUC", "GAUC", "logloss"} <= runs[0].metrics["test"].keys()
    log = [json.loads(line) for line in (runs[0].run_dir / "metrics.jsonl").read_text().splitlines()]
    losses = [entry["train_loss"] for entry in log if "train_loss" in entry]
    assert len(losses) == 2 and losses[1] < losses[0]


def test_a_ctr_model_must_stop_on_auc_or_gauc(shared_data, tmp_path, heavy_raters):
    with pytest.raises(ConfigError, match="early_stopping_metric"):
        run_experiment(
            _config(shared_data, tmp_path, early_stopping_metric="NDCG@10"), data=heavy_raters, progress=False
        )


def test_an_interrupted_bucketed_run_resumes_to_the_uninterrupted_result(
    shared_data, tmp_path, heavy_raters, monkeypatch
):
    import dynint.train.experiment as experiment

    train = {"batch_size": 32, "bucket_lengths": [4], "max_epochs": 2, "patience": 2}
    reference = run_experiment(_config(shared_data, tmp_path / "a", **train), data=heavy_raters, progress=False)
    original = experiment.fit

    def stop_after_first_epoch(**kwargs):
        def interrupt(epoch):
            raise KeyboardInterrupt

        return original(**{**kwargs, "on_epoch_end": interrupt})

    monkeypatch.setattr(experiment, "fit", stop_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(_config(shared_data, tmp_path / "b", **train), data=heavy_raters, progress=False)
    monkeypatch.setattr(experiment, "fit", original)
    resumed = run_experiment(
        _config(shared_data, tmp_path / "b", resume=True, **train), data=heavy_raters, progress=False
    )
    assert resumed.metrics == reference.metrics and resumed.extra["epochs"] == 2


def test_side_features_choose_the_item_fields_a_ctr_model_embeds(shared_data, tmp_path, heavy_raters):
    from dynint.train.ctr_experiment import build_ctr_run_data

    def fields(side_features):
        config = _config(shared_data, tmp_path)
        config = parse_config(
            {**config_to_dict(config), "model": {**config_to_dict(config)["model"], "side_features": side_features}}
        )
        return build_ctr_run_data(config, heavy_raters).feature_sizes

    every = fields(None)
    assert every and fields([]) == {}
    chosen = sorted(every)[0]
    assert fields([chosen]) == {chosen: every[chosen]}
    with pytest.raises(ConfigError, match=r"model\.side_features: brand not among"):
        fields(["brand"])
