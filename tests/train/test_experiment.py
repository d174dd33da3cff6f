import json
import math

import pytest

from dynint.cli.main import main
from dynint.errors import ConfigError
from dynint.runner import run_experiment
from tests.train.conftest import TINY_EXPERIMENT, tiny_config


def _dotted(section: dict, prefix: str = "") -> list[str]:
    overrides = []
    for key, value in section.items():
        if isinstance(value, dict):
            overrides += _dotted(value, f"{prefix}{key}.")
        else:
            overrides.append(f"{prefix}{key}={json.dumps(value)}")
    return overrides


@pytest.mark.parametrize(
    "model",
    [
        {"name": "sasrec", "loss": "gbce", "num_negatives": 8, "gbce_t": 0.5},
        {"name": "gru4rec", "hidden_size": 16, "gru_size": 16, "dropout": 0.1},
        {
            "name": "bert4rec",
            "hidden_size": 16,
            "num_layers": 1,
            "num_heads": 1,
            "inner_size": 32,
            "mask_probability": 0.3,
        },
    ],
    ids=lambda m: "-".join(str(v) for k, v in m.items() if k in ("name", "loss")),
)
def test_each_model_trains_through_the_runner(model, tiny_data, tmp_path):
    config = tiny_config(tmp_path, model=model, train={"max_epochs": 2})
    result = run_experiment(config, data=tiny_data, progress=False)
    log = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert all(math.isfinite(e["train_loss"]) for e in log[:-1]) and log[0]["train_loss"] > log[1]["train_loss"]
    assert 0 < result.metrics["test"]["NDCG@10"] <= 1


def test_cli_trains_a_neural_model_and_resume_continues_a_finished_run(tmp_path, capsys, repo_root):
    config = repo_root / "experiments" / "quickstart" / "sasrec.yaml"
    overrides = _dotted({k: v for k, v in TINY_EXPERIMENT.items() if k != "name"}) + [f"output_dir={tmp_path}"]
    assert main(["run", str(config), *overrides, "--no-progress"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["run", str(config), *overrides, "--no-progress", "--resume"]) == 0
    assert json.loads(capsys.readouterr().out) == first
    result = json.loads((tmp_path / "sasrec" / "synthetic" / "seed0" / "result.json").read_text())
    assert result["config"]["train"]["resume"] is True and result["extra"]["epochs"] == 3


def test_neural_models_refuse_the_leaky_fit_on_all_interactions_option(tiny_data, tmp_path):
    with pytest.raises(ConfigError, match="fit_on_all_interactions"):
        run_experiment(tiny_config(tmp_path, split={"fit_on_all_interactions": True}), data=tiny_data, progress=False)
