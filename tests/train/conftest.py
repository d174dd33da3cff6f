"""A tiny SASRec experiment on synthetic data, shared by the training tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from dynint.config import parse_config
from dynint.config.schema import ExperimentConfig
from dynint.data.prepared import prepare_data
from dynint.runner import RunResult, run_experiment
from dynint.train.compilation import CACHE_ENV

TINY_EXPERIMENT: dict[str, Any] = {
    "name": "tiny",
    "seed": 0,
    "data": {
        "name": "synthetic",
        "synthetic": {"num_users": 150, "num_items": 40, "num_clusters": 4, "sequence_length": 10, "min_length": 4},
    },
    "eval": {"ks": [5, 10]},
    "model": {"name": "sasrec", "hidden_size": 16, "num_layers": 1, "num_heads": 1, "inner_size": 32, "dropout": 0.1},
    "train": {"batch_size": 16, "max_length": 12, "bucket_lengths": [12], "max_epochs": 3, "learning_rate": 0.01},
}


def tiny_config(output_dir: Path, **sections: Any) -> ExperimentConfig:
    """The tiny experiment writing under `output_dir`, with `sections` merged into its sections
    (a `model` section naming another model replaces the SASRec one)."""
    raw = {key: dict(value) if isinstance(value, dict) else value for key, value in TINY_EXPERIMENT.items()}
    for key, value in sections.items():
        replaces = key == "model" and value.get("name", raw["model"]["name"]) != raw["model"]["name"]
        raw.setdefault(key, {})
        raw[key] = value if replaces or not isinstance(value, dict) else {**raw[key], **value}
    return parse_config({**raw, "output_dir": str(output_dir)})


@pytest.fixture(scope="session", autouse=True)
def compilation_cache(tmp_path_factory) -> Path:
    """One fresh compilation cache for the session, shared with the subprocesses tests start."""
    folder = tmp_path_factory.mktemp("jax-cache")
    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = previous


@pytest.fixture(scope="session")
def tiny_data():
    return prepare_data(tiny_config(Path("unused")))


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory, tiny_data) -> RunResult:
    """An uninterrupted run of the tiny experiment."""
    return run_experiment(tiny_config(tmp_path_factory.mktemp("reference")), data=tiny_data, progress=False)
