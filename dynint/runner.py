"""Run one experiment: data -> split -> model -> validation and test metrics -> run folder.

The run folder holds the fully resolved `config.yaml`, `provenance.json`, `metrics.jsonl`
(one line per evaluation) and the final `result.json`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from baselines.base import Baseline, FitData
from dynint.components import get_model_entry
from dynint.config.loader import config_to_dict, dump_config
from dynint.config.schema import ExperimentConfig
from dynint.data.interactions import Interactions
from dynint.data.loading import load_interactions, make_split
from dynint.data.splits import EvalSet, Split, Stage
from dynint.errors import ConfigError
from dynint.eval.protocols import RankingProtocol
from dynint.eval.ranking import evaluate_ranking
from dynint.io import append_jsonl, write_json_atomic, write_text_atomic
from dynint.provenance import provenance


@dataclass(frozen=True)
class PreparedData:
    """Preprocessed interactions and their split, reusable across seeds and models."""

    interactions: Interactions
    split: Split


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    metrics: dict[str, dict[str, float]]
    wall_time_s: float
    leaky: bool
    extra: dict[str, Any] = field(default_factory=dict)


def prepare_data(config: ExperimentConfig, data_dir: str | Path | None = None) -> PreparedData:
    interactions = load_interactions(config.data, data_dir)
    return PreparedData(interactions, make_split(interactions, config.split))


def run_directory(config: ExperimentConfig) -> Path:
    data_name = config.data.name.replace(":", "_").replace("/", "_")
    return Path(config.output_dir) / config.name / data_name / f"seed{config.seed}"


def run_experiment(
    config: ExperimentConfig,
    *,
    data: PreparedData | None = None,
    data_dir: str | Path | None = None,
    progress: bool = True,
) -> RunResult:
    """Fit and evaluate `config.model`; validation first, then the test set exactly once."""
    started = time.perf_counter()
    run_dir = run_directory(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.jsonl").unlink(missing_ok=True)
    if data_dir is not None:
        config = replace(config, data=replace(config.data, data_dir=str(data_dir)))
    write_text_atomic(run_dir / "config.yaml", dump_config(config))
    run_provenance = provenance()
    write_json_atomic(run_dir / "provenance.json", run_provenance)

    data = data or prepare_data(config, data_dir)
    entry = get_model_entry(config.model.name)
    metrics: dict[str, dict[str, float]] = {}
    extra: dict[str, Any] = {}
    if entry.kind == "neural":
        from dynint.train.experiment import train_and_evaluate

        trained = train_and_evaluate(config, data, run_dir, progress=progress)
        metrics, extra = trained.metrics, trained.extra
    elif entry.kind == "ctr":
        from dynint.train.ctr_experiment import train_and_evaluate_ctr

        trained = train_and_evaluate_ctr(config, data, run_dir, progress=progress)
        metrics, extra = trained.metrics, trained.extra
    elif entry.kind == "multitask":
        from dynint.train.multitask_experiment import train_and_evaluate_multitask

        trained = train_and_evaluate_multitask(config, data, run_dir, progress=progress)
        metrics, extra = trained.metrics, trained.extra
    else:
        for stage in ("valid", "test"):
            metrics[stage] = _fit_and_evaluate_baseline(config, entry.build, data, stage, progress)
            append_jsonl(run_dir / "metrics.jsonl", {"stage": stage, **metrics[stage]})

    wall_time = time.perf_counter() - started
    result = {
        "name": config.name,
        "model": config.model.name,
        "dataset": config.data.name,
        "seed": config.seed,
        "leaky": config.split.fit_on_all_interactions,
        "metrics": metrics,
        "wall_time_s": wall_time,
        "extra": extra,
        "data": _data_summary(data),
        "config": config_to_dict(config),
        "provenance": run_provenance,
    }
    write_json_atomic(run_dir / "result.json", result)
    return RunResult(run_dir, metrics, wall_time, config.split.fit_on_all_interactions, extra)


def _fit_and_evaluate_baseline(
    config: ExperimentConfig, build: Any, data: PreparedData, stage: Stage, progress: bool
) -> dict[str, float]:
    split = data.split
    leaky = config.split.fit_on_all_interactions
    fit_data = FitData.for_stage(split, stage, data.interactions.item_features, leaky=leaky)
    model = build(config.model).fit(fit_data)
    return evaluate_baseline(model, fit_data, split.eval_set(stage), config.eval, progress=progress)


def evaluate_baseline(
    model: Baseline, fit_data: FitData, eval_set: EvalSet, protocol: RankingProtocol, *, progress: bool = True
) -> dict[str, float]:
    """Rank `eval_set` with a fitted baseline; popularity-sampled negatives count `fit_data`'s events."""
    if protocol.kind not in model.protocols:
        raise ConfigError(
            f"eval.kind={protocol.kind!r}: {type(model).__name__} supports {', '.join(sorted(model.protocols))}"
        )
    popularity = None
    if protocol.kind == "sampled" and protocol.negative_sampling == "popularity":
        popularity = np.bincount(fit_data.sequences.values, minlength=fit_data.num_items + 1).astype(np.float64)
    return evaluate_ranking(model, eval_set, fit_data.num_items, protocol, popularity=popularity, progress=progress)


def _data_summary(data: PreparedData) -> dict[str, Any]:
    split = data.split
    return {
        "users": data.interactions.num_users,
        "items": data.interactions.num_items,
        "interactions": len(data.interactions),
        "split": split.kind,
        "train_events": int(len(split.train.values)),
        "valid_rows": len(split.valid),
        "test_rows": len(split.test),
    }
