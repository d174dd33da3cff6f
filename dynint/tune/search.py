"""Hyper-parameter search for baselines, selecting on the validation split only.

A trial fits on the events visible at validation and is scored on the validation rows. The
trials see nothing else: `ValidationStage` is all they get, and it is built from a split's
training events and validation rows alone, so no code path leads from tuning to a test answer.
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from tqdm.auto import tqdm

from baselines.base import FitData
from dynint.components import get_model_entry
from dynint.config.loader import parse_config, set_dotted
from dynint.config.schema import ExperimentConfig
from dynint.data.interactions import ItemFeatures
from dynint.data.splits import EvalSet, Split
from dynint.errors import ConfigError
from dynint.eval.ranking_metrics import metric_names
from dynint.io import append_jsonl, write_text_atomic
from dynint.provenance import provenance
from dynint.runner import evaluate_baseline
from dynint.tune.space import SearchSpace

Strategy = Literal["grid", "random"]


@dataclass(frozen=True)
class ValidationStage:
    """What a tuning trial may read: the events visible at validation and the validation rows."""

    fit_data: FitData
    eval_set: EvalSet

    @classmethod
    def from_split(cls, split: Split, item_features: ItemFeatures | None) -> ValidationStage:
        # Reads split.train, split.train_timestamps and split.valid; nothing of the test stage.
        return cls(FitData.for_stage(split, "valid", item_features), split.eval_set("valid"))


@dataclass(frozen=True)
class Trial:
    index: int
    params: dict[str, Any]
    metrics: dict[str, float]
    fit_s: float
    eval_s: float


@dataclass(frozen=True)
class TuneResult:
    trials: list[Trial]
    best: Trial
    best_config: dict[str, Any]  # the raw config mapping with the best trial's params set
    metric: str


def search_points(space: SearchSpace, strategy: Strategy, trials: int | None, seed: int) -> list[dict[str, Any]]:
    """The parameter settings to try: the whole grid, or `trials` seeded random draws."""
    if strategy == "grid":
        points = space.grid()
        if trials is not None and trials < len(points):
            raise ConfigError(
                f"the grid has {len(points)} points but --trials is {trials}; drop --trials or use --strategy random"
            )
        return points
    if strategy == "random":
        if trials is None or trials < 1:
            raise ConfigError("random search needs --trials N (a positive number of draws)")
        return space.sample(trials, seed)
    raise ConfigError(f"strategy={strategy!r}: expected 'grid' or 'random'")


def tune(
    raw_config: dict[str, Any],
    points: Sequence[dict[str, Any]],
    stage: ValidationStage,
    *,
    metric: str = "NDCG@10",
    trials_path: str | Path | None = None,
    progress: bool = True,
) -> TuneResult:
    """Fit and validate `raw_config` with each of `points` set; the best is the highest `metric`
    (the earliest on ties). Each trial is appended to `trials_path` (JSON Lines) as it ends."""
    base = check_tunable(raw_config, points, metric)
    trials: list[Trial] = []
    bar = tqdm(points, desc=f"tune {base.model.name}", unit="trial", disable=not (progress and sys.stderr.isatty()))
    for index, params in enumerate(bar):
        config = parse_config(with_params(raw_config, params))
        build = get_model_entry(config.model.name).build
        started = time.perf_counter()
        model = build(config.model).fit(stage.fit_data)
        fitted = time.perf_counter()
        metrics = evaluate_baseline(model, stage.fit_data, stage.eval_set, config.eval, progress=False)
        trial = Trial(index, params, metrics, fitted - started, time.perf_counter() - fitted)
        trials.append(trial)
        if trials_path is not None:
            record = {"trial": index, "params": params, "valid": metrics, "fit_s": trial.fit_s, "eval_s": trial.eval_s}
            append_jsonl(trials_path, record)
        best = max(trials, key=lambda t: t.metrics[metric])  # max keeps the first of equals
        bar.set_postfix_str(f"best valid {metric} {best.metrics[metric]:.4f} (trial {best.index})")
    best = max(trials, key=lambda t: t.metrics[metric])
    return TuneResult(trials, best, with_params(raw_config, best.params), metric)


def check_tunable(raw_config: dict[str, Any], points: Sequence[dict[str, Any]], metric: str) -> ExperimentConfig:
    """The parsed base config, once the search is known to be valid: a baseline, model.* keys
    only, a computed metric, no leaky fitting. Raises `ConfigError` naming what is wrong."""
    base = parse_config(raw_config)
    if base.split.fit_on_all_interactions:
        raise ConfigError("split.fit_on_all_interactions=true leaks test answers into fitting; tuning refuses it")
    if get_model_entry(base.model.name).kind != "baseline":
        raise ConfigError(f"model.name={base.model.name!r}: `dynint tune` tunes baselines (fit/score models)")
    if not points:
        raise ConfigError("the search has no points to try")
    for key in {key for point in points for key in point}:
        if not key.startswith("model."):
            raise ConfigError(f"search key {key!r}: only model.* keys can be tuned (data and protocol stay fixed)")
    if metric not in metric_names(base.eval.ks):
        raise ConfigError(f"metric {metric!r} is not computed; eval.ks={list(base.eval.ks)} gives e.g. NDCG@K, HR@K")
    return base


def with_params(raw_config: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A copy of the raw config mapping with each dotted key of `params` set."""
    raw = copy.deepcopy(raw_config)
    for key, value in params.items():
        set_dotted(raw, key, value)
    return raw


class _ConfigDumper(yaml.SafeDumper):
    """Block-style mappings with one-line lists (`ks: [5, 10, 20]`), as the hand-written configs."""


_ConfigDumper.add_representer(
    list, lambda dumper, value: dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)
)


def write_trials_header(path: str | Path, setup: dict[str, Any]) -> None:
    """Start a fresh trials file with one line describing the search (then one line per trial)."""
    Path(path).unlink(missing_ok=True)
    append_jsonl(path, {"setup": setup, "provenance": provenance()})


def write_best_config(
    path: str | Path, result: TuneResult, *, command: str, base_config: str, trials_path: str | Path
) -> Path:
    """The best trial's config as an experiment file, opening with how it was chosen."""
    config = parse_config(result.best_config)
    value = result.best.metrics[result.metric]
    header = [
        f"# {config.model.name} on {config.data.name}: hyper-parameters chosen on the validation split only",
        f"# (best valid {result.metric} = {value:.4f} of {len(result.trials)} trials; test events never read).",
        f"# Tuned from {base_config} by:",
        f"#   {command}",
        f"# Every trial: {trials_path}",
        f"# Run: dynint run {path}",
    ]
    body = yaml.dump(result.best_config, Dumper=_ConfigDumper, sort_keys=False)
    return write_text_atomic(path, "\n".join(header) + "\n" + body)
