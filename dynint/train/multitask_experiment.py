"""Train a multitask model (Shared-Bottom, MMoE, PLE, ESMM) of an `ExperimentConfig` on the engine
every model shares, on the CTR samples with their targets' ratings: validation every epoch for
early stopping on `train.early_stopping_metric`, the test set once, with the best epoch's
parameters. The run's record adds the parameter count, the training time and each gate's mean
weight per expert on the test samples."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import jax
from flax import nnx

from dynint.components import get_model_entry
from dynint.config.schema import ExperimentConfig
from dynint.data.ctr_samples import CTRBatch
from dynint.data.prepared import PreparedData
from dynint.distributed.runtime import host_copy
from dynint.errors import ConfigError
from dynint.eval.multitask_metrics import expert_utilisation, multitask_metric_names, multitask_metrics
from dynint.models.auxiliary import training_forward
from dynint.models.dropout import DropoutKeys
from dynint.models.multitask.config import MultitaskConfig
from dynint.models.multitask.losses import combine_losses, task_losses
from dynint.train import sharding
from dynint.train.compilation import enable_compilation_cache
from dynint.train.ctr_batches import CTRBatcher, predict_in_batches
from dynint.train.ctr_experiment import build_ctr_run_data
from dynint.train.experiment import TrainedRun, data_parallel_mesh, run_key, train_then_test
from dynint.train.item_content import build_item_content
from dynint.train.optim import trainable_parameters
from dynint.train.precision import set_compute_dtype
from dynint.train.state import split_model
from dynint.train.step import LossFn


def multitask_loss_fn(graphdef: Any, config: MultitaskConfig) -> LossFn:
    """The weighted sum of the task losses (fixed or learned weights), plus the encoder's own
    (already weighted) auxiliary loss, such as DIEN's, and those its layers sow (a mixture of
    experts' balancing)."""

    def loss(params: Any, batch: CTRBatch, key: jax.Array) -> jax.Array:
        model = nnx.merge(graphdef, params)
        outputs, sown = training_forward(model, batch, DropoutKeys(key))
        losses = task_losses(outputs, batch, config.like_threshold, model.entire_space)
        log_variances = None if model.log_variances is None else model.log_variances[...]
        return combine_losses(losses, config.tasks, config.weights, log_variances) + outputs.auxiliary + sown

    return loss


def train_and_evaluate_multitask(
    config: ExperimentConfig,
    data: PreparedData,
    run_dir: Path,
    progress: bool = True,
    *,
    on_epoch_end: Callable[[int], None] | None = None,
) -> TrainedRun:
    train, model_config = config.train, config.model
    metric_names = multitask_metric_names(model_config.tasks)
    if train.early_stopping_metric not in metric_names:
        raise ConfigError(
            f"train.early_stopping_metric={train.early_stopping_metric!r}: a model of tasks "
            f"{', '.join(model_config.tasks)} stops on one of {', '.join(metric_names)}"
        )
    if config.split.fit_on_all_interactions:
        raise ConfigError(
            "split.fit_on_all_interactions is a baseline-only option; multitask models train on split.train"
        )
    if data.interactions.rating is None and set(model_config.tasks) != {"engagement"}:
        raise ConfigError(
            f"model.tasks={list(model_config.tasks)!r}: data set {config.data.name!r} has no ratings, so only "
            "'engagement' can be trained"
        )
    enable_compilation_cache()
    ctr_data = build_ctr_run_data(config, data, with_ratings=data.interactions.rating is not None)
    model = get_model_entry(model_config.name).build(
        sharding.model_for_mesh(model_config, train.model_parallelism),
        ctr_data.num_items,
        train.max_length,
        ctr_data.feature_sizes,
        rngs=nnx.Rngs(params=run_key(config.seed, 0)),
        content=build_item_content(model_config, data.interactions, progress=progress),
    )
    graphdef, params = split_model(set_compute_dtype(model, train.dtype))
    parameters = sum(int(leaf.size) for leaf in jax.tree.leaves(trainable_parameters(params)))
    mesh, _ = data_parallel_mesh(train)
    utilisation: dict[str, list[float]] = {}

    def evaluate(params: Any, stage: str) -> dict[str, float]:
        samples = ctr_data.stage(stage)
        predict = partial(_predict, graphdef, host_copy(params))
        outputs, gates = predict_in_batches(predict, ctr_data, stage, config.ctr.batch_size, train.buckets)
        if stage == "test":  # the test set is evaluated once, with the tested parameters
            utilisation.update(expert_utilisation(gates))
        ratings = samples.ratings if samples.ratings is not None else 0.0 * samples.labels
        return multitask_metrics(samples.labels, ratings, outputs, model_config.like_threshold)

    samples = {stage: len(ctr_data.stage(stage)) for stage in ("train", "valid", "test")}
    batches = CTRBatcher(ctr_data, train.batch_size, train.buckets)
    loss = multitask_loss_fn(graphdef, model_config)
    trained = train_then_test(
        config, params, loss, batches, mesh, evaluate, run_dir, progress, on_epoch_end, samples=samples
    )
    record = {
        "parameters": parameters,
        "train_time_s": sum(trained.extra["epoch_train_time_s"]),
        "expert_utilisation": utilisation,
    }
    return replace(trained, extra={**trained.extra, **record})


@partial(jax.jit, static_argnums=0)
def _predict(graphdef: Any, params: Any, batch: CTRBatch) -> tuple[dict[str, jax.Array], dict[str, jax.Array]]:
    outputs = nnx.merge(graphdef, params)(batch)
    return outputs.outputs, outputs.gates
