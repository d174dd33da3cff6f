"""Finished runs on ml-100k (a small SASRec, refit for test, and PopRec) shared by the serving tests."""

import pytest

from dynint.config import parse_config
from dynint.runner import run_experiment


def _config(shared_data, out, model):
    sections = {
        "sasrec": {"name": "sasrec", "hidden_size": 16, "num_layers": 1, "num_heads": 1, "inner_size": 32},
        "poprec": {"name": "poprec"},
    }
    return parse_config(
        {
            "name": f"serve-{model}",
            "output_dir": str(out),
            "data": {"name": "ml-100k", "data_dir": str(shared_data)},
            "eval": {"ks": [10]},
            "model": sections[model],
            "train": {"max_epochs": 2, "batch_size": 128, "max_length": 50, "refit_for_test": True},
        }
    )


@pytest.fixture(scope="module")
def finished_runs(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return {
        model: run_experiment(_config(shared_data, out, model), progress=False).run_dir
        for model in ("sasrec", "poprec")
    }
