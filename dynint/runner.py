"""Run one experiment: data -> split -> model -> validation and test metrics -> run folder.

The run folder holds the fully resolved `config.yaml`, `provenance.json`, `metrics.jsonl`
(one line per evaluation) and the final `result.json` (`status` finished, or failed with the
failure's record), and, while a process runs in it, its lock file `.lock`.
"""

from __future__ import annotations

import json
import shutil
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from baselines.base import Baseline, FitData
from dynint.components import TRAINERS, get_model_entry, trainer
from dynint.config.loader import config_to_dict, dump_config
from dynint.config.schema import ExperimentConfig
from dynint.data.ctr_samples import CTRSamples, build_ctr_samples
from dynint.data.prepared import PreparedData, prepare_data
from dynint.data.splits import EvalSet, Stage
from dynint.errors import ConfigError, TrainingDiverged
from dynint.eval.beyond_accuracy import catalogue_facts
from dynint.eval.ctr_protocol import ctr_metrics, fit_logistic_calibration
from dynint.eval.protocols import RankingProtocol
from dynint.eval.ranking import evaluate_ranking
from dynint.io import append_jsonl, write_json_atomic, write_text_atomic, writes_files
from dynint.provenance import provenance
from dynint.run_lock import RunLock

METRICS = "metrics.jsonl"
RESULT = "result.json"


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    metrics: dict[str, dict[str, float]]
    wall_time_s: float
    leaky: bool
    extra: dict[str, Any] = field(default_factory=dict)


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
    """Fit and evaluate `config.model`; validation first, then the test set exactly once.

    The data set is read before the run folder is touched, and the folder is locked against a
    second process (`RunInUseError`). A run that fails before its training starts leaves the
    folder as it found it (a new one is removed). A run whose training diverges records the
    failure in its `result.json` (`status: failed`) and raises `TrainingDiverged`."""
    started = time.perf_counter()
    if data_dir is not None:
        config = replace(config, data=replace(config.data, data_dir=str(data_dir)))
    if config.distributed.resolved().enabled:
        from dynint.distributed.runtime import initialize  # JAX's distributed runtime: only for multi-process runs

        initialize(config.distributed)
    data = data or prepare_data(config, data_dir)
    entry = get_model_entry(config.model.name)
    if config.eval.kind == "ctr" and entry.kind != "baseline":
        raise ConfigError(
            f"eval.kind='ctr' is for baselines; {config.model.name!r} is a {entry.kind} model "
            "(CTR models are always evaluated under the ctr protocol)"
        )
    run_dir = run_directory(config)
    checkpoint_dir = config.train.checkpoint_directory(run_dir) if entry.kind != "baseline" else None
    with _RunFolder(run_dir, checkpoint_dir):
        run_provenance = _session_provenance(config, run_dir)
        write_text_atomic(run_dir / "config.yaml", dump_config(config))
        write_json_atomic(run_dir / "provenance.json", run_provenance)
        result = {
            "name": config.name,
            "model": config.model.name,
            "dataset": config.data.name,
            "seed": config.seed,
            "leaky": config.split.fit_on_all_interactions,
        }
        try:
            metrics, extra = _fit_and_evaluate(config, entry, data, run_dir, progress)
        except TrainingDiverged as error:
            failure = {"kind": "diverged", "message": str(error), **error.record}
            write_json_atomic(run_dir / RESULT, _result(result, started, {}, {}, data, config, run_provenance, failure))
            raise
        write_json_atomic(run_dir / RESULT, _result(result, started, metrics, extra, data, config, run_provenance))
    return RunResult(run_dir, metrics, time.perf_counter() - started, config.split.fit_on_all_interactions, extra)


def _fit_and_evaluate(
    config: ExperimentConfig, entry: Any, data: PreparedData, run_dir: Path, progress: bool
) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """The validation and test metrics of `config`'s model (of registry `entry`), and its record."""
    if config.temporal is not None:
        from dynint.temporal.experiment import run_stream

        return run_stream(config, data.interactions, run_dir, progress=progress)
    if entry.kind in TRAINERS:
        trained = trainer(entry.kind)(config, data, run_dir, progress=progress)
        return trained.metrics, trained.extra
    metrics: dict[str, dict[str, float]] = {}
    extra: dict[str, Any] = {}
    if config.eval.kind == "ctr":
        metrics, extra = evaluate_baseline_ctr(config, entry.build, data)
    else:
        for stage in ("valid", "test"):
            metrics[stage] = _fit_and_evaluate_baseline(config, entry.build, data, stage, progress)
    for stage in ("valid", "test"):
        append_jsonl(run_dir / METRICS, {"stage": stage, **metrics[stage]})
    return metrics, extra


def _result(
    identity: dict[str, Any],
    started: float,
    metrics: dict[str, dict[str, float]],
    extra: dict[str, Any],
    data: PreparedData,
    config: ExperimentConfig,
    run_provenance: dict[str, Any],
    failure: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of a run's `result.json`: finished with its metrics, or failed with `failure`."""
    status = {"status": "finished"} if failure is None else {"status": "failed", "failure": failure}
    return {
        **identity,
        **status,
        "metrics": metrics,
        "wall_time_s": time.perf_counter() - started,
        "extra": extra,
        "data": _data_summary(data),
        "config": config_to_dict(config),
        "provenance": run_provenance,
    }


class _RunFolder:
    """A run folder while a run writes it: locked (and its checkpoint folder, where that lies
    elsewhere) against a second process, and put back as it was found if the run fails before
    its training starts, which is when the run first writes `metrics.jsonl`: a folder the run
    created is removed, the files it rewrote in an existing one are restored."""

    _REWRITTEN = ("config.yaml", "provenance.json", METRICS, RESULT)

    def __init__(self, run_dir: Path, checkpoint_dir: Path | None):
        self.run_dir = run_dir
        self.locks = [RunLock(run_dir / ".lock", f"run folder {run_dir}")]
        if checkpoint_dir is not None and not checkpoint_dir.resolve().is_relative_to(run_dir.resolve()):
            lock = checkpoint_dir.parent / f".{checkpoint_dir.name}.lock"
            self.locks.append(RunLock(lock, f"checkpoint folder {checkpoint_dir}"))
        self.existed = False
        self.found: dict[str, str] = {}

    def __enter__(self) -> _RunFolder:
        if not writes_files():  # a secondary process of a multi-process run: the primary holds the folder
            self.locks = []
            return self
        self.existed = self.run_dir.is_dir()
        with ExitStack() as held:
            for lock in self.locks:
                held.enter_context(lock)
            # The files read and removed under the locks: a failure here releases them on the way out.
            self.found = {name: (self.run_dir / name).read_text() for name in self._REWRITTEN if self._exists(name)}
            for name in (METRICS, RESULT):
                (self.run_dir / name).unlink(missing_ok=True)
            held.pop_all()
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, traceback: Any) -> None:
        try:
            if error is not None and writes_files() and not self._exists(METRICS):
                self._put_back()
        finally:
            for lock in reversed(self.locks):
                lock.release()

    def _exists(self, name: str) -> bool:
        return (self.run_dir / name).is_file()

    def _put_back(self) -> None:
        if not self.existed:
            for child in self.run_dir.iterdir():
                if child.name != ".lock":
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
            return
        for name in self._REWRITTEN:
            if name in self.found:
                write_text_atomic(self.run_dir / name, self.found[name])
            else:
                (self.run_dir / name).unlink(missing_ok=True)


def _session_provenance(config: ExperimentConfig, run_dir: Path) -> dict[str, Any]:
    """This session's provenance; a run resumed from a checkpoint also keeps, under
    `earlier_sessions`, the commit, machine and date of each session that trained it before."""
    current = provenance()
    previous_path = run_dir / "provenance.json"
    latest = config.train.checkpoint_directory(run_dir) / "latest"
    if not (config.train.resume and previous_path.is_file() and latest.is_dir()):
        return current
    from dynint.train.checkpoint import CheckpointSlot  # orbax: only for runs that resume

    slot = CheckpointSlot(latest)
    saved_step = slot.latest_step()
    slot.close()
    if saved_step is None:
        return current
    previous = json.loads(previous_path.read_text())
    earlier = [*previous.get("earlier_sessions", []), {key: previous.get(key) for key in ("commit", "machine", "date")}]
    return {**current, "earlier_sessions": earlier}


def _fit_and_evaluate_baseline(
    config: ExperimentConfig, build: Any, data: PreparedData, stage: Stage, progress: bool
) -> dict[str, float]:
    split = data.split
    leaky = config.split.fit_on_all_interactions
    fit_data = FitData.for_stage(split, stage, data.interactions.item_features, leaky=leaky)
    model = build(config.model).fit(fit_data)
    return evaluate_baseline(model, fit_data, split.eval_set(stage), config.eval, progress=progress)


def evaluate_baseline_ctr(
    config: ExperimentConfig, build: Any, data: PreparedData
) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """A baseline under the CTR protocol (`eval.kind="ctr"`): validation and test metrics on the
    very CTR samples the CTR models are evaluated on (`config.ctr`, `train.max_length`), and a
    record of the run. The baseline is fitted on the events visible at each stage, as for ranking,
    and scores each sample's target given the sample user's whole visible history (CTR models
    see its last `train.max_length` items). Scores become click probabilities through a logistic
    calibration fitted on the validation samples only (`fit_logistic_calibration`), which the log
    loss needs and AUC and GAUC ignore."""
    split = data.split
    leaky = config.split.fit_on_all_interactions
    samples, scores = {}, {}
    for stage in ("valid", "test"):
        model = build(config.model)
        if "ctr" not in model.protocols:
            raise ConfigError(f"eval.kind='ctr': {type(model).__name__} supports {', '.join(sorted(model.protocols))}")
        model = model.fit(FitData.for_stage(split, stage, data.interactions.item_features, leaky=leaky))
        samples[stage] = build_ctr_samples(
            split,
            stage,
            max_length=config.train.max_length,
            negatives_per_positive=config.ctr.negatives_per_positive,
            seed=config.ctr.seed,
        )
        scores[stage] = score_ctr_samples(model, split.eval_set(stage), samples[stage], config.ctr.batch_size)
    scale, bias = fit_logistic_calibration(scores["valid"], samples["valid"].labels)
    metrics = {
        stage: ctr_metrics(samples[stage].users, samples[stage].labels, scale * scores[stage] + bias)
        for stage in ("valid", "test")
    }
    record = {
        "calibration": {"scale": scale, "bias": bias, "fitted_on": "valid"},
        "samples": {stage: len(samples[stage]) for stage in ("valid", "test")},
    }
    return metrics, record


def score_ctr_samples(model: Baseline, eval_set: EvalSet, samples: CTRSamples, batch_size: int) -> np.ndarray:
    """A fitted baseline's score of each CTR sample's target, `batch_size` samples at a time
    (pairs are scored independently, so the scores do not depend on it). `samples` are those
    `build_ctr_samples` makes of `eval_set`: each row's positive, then its negatives."""
    per_row = len(samples) // max(len(eval_set), 1)
    rows = np.repeat(np.arange(len(eval_set)), per_row)
    if len(rows) != len(samples) or not np.array_equal(samples.users, eval_set.users[rows]):
        raise ValueError(f"the {len(samples)} CTR samples are not {per_row} per row of the {len(eval_set)} rows")
    scores = np.empty(len(samples), dtype=np.float64)
    for start in range(0, len(samples), batch_size):
        chunk = np.arange(start, min(start + batch_size, len(samples)))
        batch = eval_set.take(rows[chunk])
        scores[chunk] = model.score_pairs(batch.users, batch.histories, samples.targets[chunk])
    return scores


def evaluate_baseline(
    model: Baseline, fit_data: FitData, eval_set: EvalSet, protocol: RankingProtocol, *, progress: bool = True
) -> dict[str, float]:
    """Rank `eval_set` with a fitted baseline; popularity-sampled negatives count `fit_data`'s events."""
    if protocol.kind == "ctr":
        raise ConfigError("eval.kind='ctr' is not a ranking protocol; run_experiment evaluates it on CTR samples")
    if protocol.kind not in model.protocols:
        raise ConfigError(
            f"eval.kind={protocol.kind!r}: {type(model).__name__} supports {', '.join(sorted(model.protocols))}"
        )
    popularity = None
    if protocol.kind == "sampled" and protocol.negative_sampling == "popularity":
        popularity = np.bincount(fit_data.sequences.values, minlength=fit_data.num_items + 1).astype(np.float64)
    catalogue = None
    if protocol.beyond_accuracy:
        catalogue = catalogue_facts(fit_data.sequences, fit_data.num_items, fit_data.item_features)
    return evaluate_ranking(
        model, eval_set, fit_data.num_items, protocol, popularity=popularity, catalogue=catalogue, progress=progress
    )


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
