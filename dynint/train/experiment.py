"""Train a neural model of an `ExperimentConfig` and evaluate it: validation every epoch, the test
set once, with the parameters of the best validation epoch."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh

from dynint.components import get_model_entry
from dynint.config.loader import config_to_dict
from dynint.config.schema import ExperimentConfig
from dynint.data.prepared import PreparedData
from dynint.data.ragged import Ragged
from dynint.data.splits import Split, Stage
from dynint.distributed.runtime import host_copy, is_primary
from dynint.errors import ConfigError
from dynint.eval.beyond_accuracy import CatalogueFacts, catalogue_facts
from dynint.eval.ranking import evaluate_ranking
from dynint.eval.ranking_metrics import metric_names
from dynint.io import append_jsonl
from dynint.models.base import NextItemObjective
from dynint.models.item_representation import ItemRepresentationConfig
from dynint.privacy.units import prediction_rows
from dynint.train import sharding
from dynint.train.batching import SequenceBatcher
from dynint.train.compilation import enable_compilation_cache
from dynint.train.compute_cost import flops_to_epoch, non_embedding_parameters, training_flops_per_example
from dynint.train.config import TrainConfig
from dynint.train.item_content import build_item_content
from dynint.train.loop import METRICS_LOG, EpochBatches, LoopProgress, fit
from dynint.train.optim import trainable_parameters
from dynint.train.precision import set_compute_dtype
from dynint.train.scoring import SequenceScorer
from dynint.train.state import split_model
from dynint.train.step import LossFn, sequence_loss_fn


@dataclass(frozen=True)
class TrainedRun:
    """Validation metrics of the best epoch and test metrics (`metrics[stage]`), and what the
    run did (`extra`: best epoch, per-epoch times, ...)."""

    metrics: dict[str, dict[str, float]]
    extra: dict[str, Any]


def train_and_evaluate(
    config: ExperimentConfig,
    data: PreparedData,
    run_dir: Path,
    progress: bool = True,
    *,
    on_epoch_end: Callable[[int], None] | None = None,
) -> TrainedRun:
    if config.split.fit_on_all_interactions:
        raise ConfigError("split.fit_on_all_interactions is a baseline-only option; neural models train on split.train")
    enable_compilation_cache()
    split = data.split
    train = config.train
    check_early_stopping_metric(config)
    entry = get_model_entry(config.model.name)
    content = build_item_content(config.model, data.interactions, progress=progress)
    model = entry.build(
        sharding.model_for_mesh(config.model, train.model_parallelism),
        split.num_items,
        train.max_length,
        rngs=nnx.Rngs(params=run_key(config.seed, 0)),
        content=content,
    )
    objective = model.objective
    timed = getattr(model, "uses_event_times", False)
    if timed and (not data.interactions.has_timestamps or split.visible_timestamps("test") is None):
        raise ConfigError(
            f"model.time_buckets={config.model.time_buckets}: the time bias reads event times, and "
            f"{config.data.name} gives event order only (no timestamps); set model.time_buckets=0"
        )
    per_prediction = train.privacy.enabled and train.privacy.unit == "example"
    if per_prediction and (timed or not isinstance(objective, NextItemObjective)):
        raise ConfigError(
            "train.privacy.unit='example' makes one row per next-item prediction; it is implemented for "
            "next-item models without event times (model.time_buckets=0)"
        )
    graphdef, params = split_model(set_compute_dtype(model, train.dtype))
    # The initial parameters wait on the host: the loop places its own (on a mesh, sharded) copy,
    # and a device copy here would keep the whole item table on the first device all run long.
    del model
    params = host_copy(params)

    body = non_embedding_parameters(trainable_parameters(params))

    mesh, devices = data_parallel_mesh(train)
    # With the item table split over `model` (one process), ranking runs on the split table.
    ranking_mesh = mesh if train.model_parallelism > 1 and jax.process_count() == 1 else None

    @cache  # once per stage, not at every epoch's validation
    def catalogue(stage: Stage) -> CatalogueFacts | None:
        if not config.eval.beyond_accuracy:
            return None
        return catalogue_facts(split.visible(stage), split.num_items, data.interactions.item_features)

    @cache  # checked and gathered once per stage, not at every epoch's validation
    def history_times(stage: Stage) -> Ragged | None:
        return split.history_times(stage)

    def evaluate(params: Any, stage: Stage) -> dict[str, float]:
        eval_set = split.eval_set(stage)
        scorer_params = params if ranking_mesh is not None else host_copy(params)
        scorer = SequenceScorer.for_training(graphdef, scorer_params, objective, train, mesh=ranking_mesh)
        scorer.precompute(eval_set.users, eval_set.histories, history_times(stage) if timed else None)
        return evaluate_ranking(
            scorer,
            eval_set,
            split.num_items,
            config.eval,
            popularity=_popularity(config, split, stage),
            catalogue=catalogue(stage),
            progress=progress,
        )

    def batcher(stage: Stage) -> SequenceBatcher:
        """The training batches of the events visible at `stage` (with their times for a timed model;
        one row per prediction for example-level DP-SGD)."""
        if per_prediction:
            rows, loss_from = prediction_rows(split.visible(stage), train.max_length)
            return SequenceBatcher.for_training(rows, objective, train, alignment=devices, loss_from=loss_from)
        times = split.visible_timestamps(stage) if timed else None
        return SequenceBatcher.for_training(split.visible(stage), objective, train, alignment=devices, times=times)

    return train_then_test(
        config,
        params,
        sequence_loss_fn(graphdef, config.model, split.training_catalogue("valid")),
        batcher("valid"),
        mesh,
        evaluate,
        run_dir,
        progress,
        on_epoch_end,
        refit_batches=batcher("test") if train.refit_for_test else None,
        refit_loss=sequence_loss_fn(graphdef, config.model, split.training_catalogue("test")),
        parameters=sum(int(leaf.size) for leaf in jax.tree.leaves(trainable_parameters(params))),
        non_embedding_parameters=body,
        flops_per_example=training_flops_per_example(config.model, body, train.max_length, split.num_items),
    )


def train_then_test(
    config: ExperimentConfig,
    params: Any,
    loss: LossFn,
    batches: EpochBatches,
    mesh: Mesh,
    evaluate: Callable[[Any, Stage], dict[str, float]],
    run_dir: Path,
    progress: bool,
    on_epoch_end: Callable[[int], None] | None,
    *,
    refit_batches: EpochBatches | None = None,
    refit_loss: LossFn | None = None,
    **extra: Any,
) -> TrainedRun:
    """Train with `fit` (validating every epoch), then evaluate the best epoch's parameters on
    the test set once, log it, and return the run's metrics and record (plus `extra`). With
    `refit_batches` (the batches of the events visible at test), the tested parameters are those
    of a model trained afresh on them for the best epoch's number of epochs (`train.refit_for_test`),
    with `refit_loss` where the refit's training catalogue differs from the first fit's."""
    if config.train.refit_for_test and refit_batches is None:
        raise ConfigError(f"train.refit_for_test: {config.model.name!r} runs have no refit; set it to false")
    initial_params = jax.tree.map(np.array, params) if refit_batches is not None else None  # fit donates its copy
    result = fit(
        train=config.train,
        seed=config.seed,
        key=run_key(config.seed, 1),
        params=params,
        loss=loss,
        batches=batches,
        mesh=mesh,
        validate=lambda p: evaluate(p, "valid"),
        run_dir=run_dir,
        progress=progress,
        signature=run_signature(config),
        on_epoch_end=on_epoch_end,
    )
    loop = result.progress
    tested = result.best_params
    if refit_batches is not None:
        # Reported beside the refit model's test metrics, never used for a choice.
        extra["test_before_refit"] = evaluate(result.best_params, "test")
        extra["refit_epochs"] = loop.best_epoch
        tested = _refit(
            config,
            initial_params,
            refit_loss or loss,
            refit_batches,
            mesh,
            run_dir,
            progress,
            loop.best_epoch,
            on_epoch_end,
        )
    started = time.perf_counter()
    test = evaluate(tested, "test")
    test_time = time.perf_counter() - started
    append_jsonl(run_dir / METRICS_LOG, {"stage": "test", "epoch": loop.best_epoch, **test})
    return trained_run(loop, test, test_time, **extra)


def _refit(
    config: ExperimentConfig,
    params: Any,
    loss: LossFn,
    batches: EpochBatches,
    mesh: Mesh,
    run_dir: Path,
    progress: bool,
    epochs: int,
    on_epoch_end: Callable[[int], None] | None,
) -> Any:
    """Train `params` for exactly `epochs` epochs of `batches`, without validation, and return
    the last epoch's parameters. Its log and checkpoints live in `refit/` folders of their own,
    so an interrupted refit resumes like any run. A refit for another number of epochs (left by
    a run that was resumed with a larger patience and found a later best epoch) is another run,
    and its checkpoints are removed."""
    train = config.train
    refit_root = train.checkpoint_directory(run_dir) / "refit"
    checkpoint_dir = refit_root / f"{epochs}-epochs"
    for stale in refit_root.iterdir() if refit_root.is_dir() and is_primary() else ():
        if stale != checkpoint_dir:
            shutil.rmtree(stale)
    refit_train = replace(train, max_epochs=epochs, checkpoint_dir=str(checkpoint_dir))
    return fit(
        train=refit_train,
        seed=config.seed,
        key=run_key(config.seed, 2),
        params=params,
        loss=loss,
        batches=batches,
        mesh=mesh,
        validate=None,
        run_dir=run_dir / "refit",
        progress=progress,
        signature={**run_signature(config), "refit_epochs": epochs},
        on_epoch_end=on_epoch_end,
    ).best_params


def trained_run(loop: LoopProgress, test: dict[str, float], test_time: float, **extra: Any) -> TrainedRun:
    """The best epoch's validation metrics, the test metrics, and the record of the training."""
    record = {
        "best_epoch": loop.best_epoch,
        "epochs": loop.epoch,
        "steps": loop.history[-1]["step"],
        "epoch_train_time_s": [e["train_time_s"] for e in loop.history],
        "epoch_valid_time_s": [e["valid_time_s"] for e in loop.history],
        "test_time_s": test_time,
        **extra,
    }
    if "flops_per_example" in extra:  # the training operations that produced the chosen epoch
        record["train_flops_to_best_epoch"] = flops_to_epoch(loop.history, loop.best_epoch, extra["flops_per_example"])
    if "epsilon" in loop.history[-1]:  # DP-SGD: what the whole training spent
        record["epsilon"], record["delta"] = loop.history[-1]["epsilon"], loop.history[-1]["delta"]
    return TrainedRun({"valid": loop.history[loop.best_epoch - 1]["valid"], "test": test}, record)


def run_signature(config: ExperimentConfig) -> dict[str, Any]:
    """The settings a resumed run must share with the run it continues (not where files live).
    Default item settings (id items) are left out, so id runs keep the signature they had before
    `model.items` existed and resume from their checkpoints."""
    settings = config_to_dict(config)
    settings["train"] = {k: v for k, v in settings["train"].items() if k not in ("resume", "checkpoint_dir")}
    settings["data"] = {k: v for k, v in settings["data"].items() if k not in ("data_dir", "download")}
    settings.pop("output_dir")
    settings.pop("distributed", None)  # how processes find each other, as the device topology: not the run
    _drop_default_items(settings["model"])
    return settings


def _drop_default_items(model: dict[str, Any]) -> None:
    """Remove `items` sections equal to the default from a model's settings (and its encoder's)."""
    if model.get("items") == config_to_dict(ItemRepresentationConfig()):
        del model["items"]
    if isinstance(model.get("encoder"), dict):
        _drop_default_items(model["encoder"])


def run_key(seed: int, purpose: int) -> jax.Array:
    """Independent keys for the model's initial parameters (0), the training steps (1) and the
    refit's training steps (2)."""
    return jax.random.fold_in(jax.random.key(seed), purpose)


def _popularity(config: ExperimentConfig, split: Split, stage: Stage) -> np.ndarray | None:
    """Item counts over the events visible at `stage`, for popularity-sampled negatives."""
    if config.eval.kind != "sampled" or config.eval.negative_sampling != "popularity":
        return None
    return np.bincount(split.visible(stage).values, minlength=split.num_items + 1).astype(np.float64)


def check_early_stopping_metric(config: ExperimentConfig) -> None:
    """Refuse an early-stopping metric the evaluation does not report."""
    metric = config.train.early_stopping_metric
    if metric not in metric_names(config.eval.ks):
        raise ConfigError(
            f"train.early_stopping_metric={metric!r}: expected one of the evaluated metrics "
            f"{', '.join(metric_names(config.eval.ks))}"
        )


def data_parallel_mesh(train: TrainConfig) -> tuple[Mesh, int]:
    """The mesh of `train.num_devices` and its data-parallel size, which must divide the batch size."""
    mesh = sharding.make_mesh(train.num_devices, train.model_parallelism)
    devices = sharding.data_parallelism(mesh)
    if train.batch_size % devices:
        raise ConfigError(
            f"train.batch_size={train.batch_size} must be a multiple of the {devices} data-parallel devices"
        )
    return mesh, devices
