"""Train a CTR model (BaseModel, DIN, DIEN, BST) of an `ExperimentConfig` on the engine every
model shares, and evaluate it under the CTR protocol: validation AUC every epoch for early
stopping, the test set once, with the best validation epoch's parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from dynint.components import get_model_entry
from dynint.config.schema import ExperimentConfig
from dynint.data.ctr_samples import CTRBatch, CTRData, build_ctr_data
from dynint.data.interactions import ItemFeatures
from dynint.data.prepared import PreparedData
from dynint.distributed.runtime import host_copy
from dynint.errors import ConfigError
from dynint.eval.ctr_protocol import HIGHER_IS_BETTER, ctr_metrics
from dynint.models.auxiliary import training_forward
from dynint.models.dropout import DropoutKeys
from dynint.train import sharding
from dynint.train.compilation import enable_compilation_cache
from dynint.train.ctr_batches import CTRBatcher, predict_logits
from dynint.train.experiment import TrainedRun, data_parallel_mesh, run_key, train_then_test
from dynint.train.item_content import build_item_content
from dynint.train.precision import set_compute_dtype
from dynint.train.state import split_model
from dynint.train.step import LossFn


def ctr_loss_fn(graphdef: Any) -> LossFn:
    """Mean binary log loss of the click logits, plus the model's own (already weighted)
    auxiliary loss, such as DIEN's, and those its layers sow (a mixture of experts' balancing)."""

    def loss(params: Any, batch: CTRBatch, key: jax.Array) -> jax.Array:
        (logits, auxiliary), sown = training_forward(nnx.merge(graphdef, params), batch, DropoutKeys(key))
        logits = logits.astype(jnp.float32)  # the loss in float32 under mixed precision too
        labels = batch.labels.astype(logits.dtype)
        return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, labels)) + auxiliary + sown

    return loss


def build_ctr_run_data(config: ExperimentConfig, data: PreparedData, *, with_ratings: bool = False) -> CTRData:
    """The CTR samples of `config` (the same for every model and seed given `config.ctr`), with
    their targets' ratings if `with_ratings` (the data set must have ratings). Item cold start is
    refused: the CTR samples draw their negatives from every item, the held-out ones included."""
    if data.split.cold_items:
        raise ConfigError(
            f"split.kind={data.split.kind!r}: CTR and multitask models sample negatives from every item, so they "
            "do not run under item cold start; use a next-item model (e.g. sasrec) or split.kind=leave-one-out"
        )
    return build_ctr_data(
        data.split,
        _side_features(data.interactions.item_features, getattr(config.model, "side_features", None)),
        max_length=config.train.max_length,
        negatives_per_positive=config.ctr.negatives_per_positive,
        seed=config.ctr.seed,
        ratings=data.interactions.user_ratings() if with_ratings else None,
    )


def _side_features(features: ItemFeatures | None, names: tuple[str, ...] | None) -> ItemFeatures | None:
    """The item token features named by `model.side_features` (all of them for None)."""
    if names is None or features is None:
        return features
    unknown = sorted(set(names) - set(features.tokens))
    if unknown:
        raise ConfigError(
            f"model.side_features: {', '.join(unknown)} not among this data set's item features "
            f"({', '.join(sorted(features.tokens)) or 'none'})"
        )
    return replace(features, tokens={name: features.tokens[name] for name in names})


def train_and_evaluate_ctr(
    config: ExperimentConfig,
    data: PreparedData,
    run_dir: Path,
    progress: bool = True,
    *,
    on_epoch_end: Callable[[int], None] | None = None,
) -> TrainedRun:
    train = config.train
    if train.early_stopping_metric not in HIGHER_IS_BETTER:
        raise ConfigError(
            f"train.early_stopping_metric={train.early_stopping_metric!r}: a CTR model stops on one of "
            f"{', '.join(HIGHER_IS_BETTER)}"
        )
    if config.split.fit_on_all_interactions:
        raise ConfigError("split.fit_on_all_interactions is a baseline-only option; CTR models train on split.train")
    enable_compilation_cache()
    ctr_data = build_ctr_run_data(config, data)
    entry = get_model_entry(config.model.name)
    model = entry.build(
        sharding.model_for_mesh(config.model, train.model_parallelism),
        ctr_data.num_items,
        train.max_length,
        ctr_data.feature_sizes,
        rngs=nnx.Rngs(params=run_key(config.seed, 0)),
        content=build_item_content(config.model, data.interactions, progress=progress),
    )
    graphdef, params = split_model(set_compute_dtype(model, train.dtype))
    mesh, _ = data_parallel_mesh(train)

    def evaluate(params: Any, stage: str) -> dict[str, float]:
        samples = ctr_data.stage(stage)
        logits = predict_logits(graphdef, host_copy(params), ctr_data, stage, config.ctr.batch_size, train.buckets)
        return ctr_metrics(samples.users, samples.labels, logits)

    samples = {stage: len(ctr_data.stage(stage)) for stage in ("train", "valid", "test")}
    batches = CTRBatcher(ctr_data, train.batch_size, train.buckets)
    return train_then_test(
        config, params, ctr_loss_fn(graphdef), batches, mesh, evaluate, run_dir, progress, on_epoch_end, samples=samples
    )
