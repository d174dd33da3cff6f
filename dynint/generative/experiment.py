"""Train and evaluate a TIGER model (`model.name: tiger`) on the engine every model shares.

1. Each item's content vector (its document embedded by the pretrained text encoder, or its
   attribute bag) is quantised by an RQ-VAE into semantic ids (`dynint.generative.rqvae`,
   `semantic_ids`), with a collision level so that every item's id is unique.
2. The decoder is trained on the users' token streams (early stopping on validation, checkpoints,
   resume and refit as for every model).
3. Validation and test rank by generation: the beam's items, best first, seen items excluded; a
   target outside the beam counts as not retrieved, so metrics exist for K up to the beam width.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from dynint.config.schema import ExperimentConfig
from dynint.data.interactions import ItemFeatures
from dynint.data.item_content import documents_from_features
from dynint.data.prepared import PreparedData
from dynint.distributed.runtime import host_copy
from dynint.errors import ConfigError
from dynint.eval.ranking_metrics import ranking_metrics
from dynint.eval.rows import row_batches
from dynint.generative.batches import TokenBatcher
from dynint.generative.beam import generate
from dynint.generative.rqvae import train_rqvae
from dynint.generative.semantic_ids import PrefixTrie, SemanticIds
from dynint.generative.tiger import TIGER, TIGERConfig, token_loss_fn
from dynint.train.compilation import enable_compilation_cache
from dynint.train.experiment import TrainedRun, data_parallel_mesh, run_key, train_then_test
from dynint.train.optim import trainable_parameters
from dynint.train.precision import set_compute_dtype
from dynint.train.state import split_model

EVAL_ROWS = 256
"""Histories generated for at once (the beam's candidate arrays grow with it)."""


def train_and_evaluate_generative(
    config: ExperimentConfig,
    data: PreparedData,
    run_dir: Path,
    progress: bool = True,
    *,
    on_epoch_end: Callable[[int], None] | None = None,
) -> TrainedRun:
    model_config: TIGERConfig = config.model
    train, split = config.train, data.split
    _check_protocol(config)
    if split.cold_items:
        raise ConfigError(
            f"split.kind={split.kind!r}: TIGER does not run under item cold start yet (its evaluation has not been "
            "checked for held-out items); use split.kind=leave-one-out"
        )
    enable_compilation_cache()
    vectors = item_vectors(model_config, data.interactions.item_features, split.num_items, progress)
    quantised = train_rqvae(vectors[1:], model_config.semantic_ids.rqvae, config.seed)
    ids = SemanticIds.from_codes(quantised.codes, model_config.semantic_ids.rqvae.codebook_size)
    trie = PrefixTrie(ids)
    max_items = model_config.max_items
    model = TIGER(
        model_config, ids.vocabulary, (max_items + 1) * ids.depth, rngs=nnx.Rngs(params=run_key(config.seed, 0))
    )
    graphdef, params = split_model(set_compute_dtype(model, train.dtype))
    del model
    params = host_copy(params)
    mesh, _ = data_parallel_mesh(train)

    def evaluate(params: Any, stage: str) -> dict[str, float]:
        eval_set = split.eval_set(stage)
        host_params = host_copy(params)
        ranks = np.empty(len(eval_set), dtype=np.int64)
        for rows in row_batches(len(eval_set), EVAL_ROWS, f"generating ({stage})", progress):
            batch = eval_set.take(rows)
            lists = generate(
                graphdef, host_params, ids, trie, batch.histories, max_items, model_config.beam_size, batch.targets
            )
            ranks[rows] = retrieved_ranks(lists, batch.targets, split.num_items)
        return ranking_metrics(ranks, config.eval.ks, eval_set.users)

    def batcher(sequences) -> TokenBatcher:
        return TokenBatcher(sequences, ids, max_items, train.batch_size)

    return train_then_test(
        config,
        params,
        token_loss_fn(graphdef),
        batcher(split.train),
        mesh,
        evaluate,
        run_dir,
        progress,
        on_epoch_end,
        refit_batches=batcher(split.visible("test")) if train.refit_for_test else None,
        parameters=sum(int(leaf.size) for leaf in jax.tree.leaves(trainable_parameters(params))),
        semantic_ids={**quantised.stats, **ids.collisions(), "depth": ids.depth, "vocabulary": ids.vocabulary},
    )


def retrieved_ranks(lists: np.ndarray, targets: np.ndarray, num_items: int) -> np.ndarray:
    """Each row's 0-based place of its target in its generated list; `num_items` where the list
    lacks it (ranked below every K the beam can report)."""
    hit = lists == np.asarray(targets)[:, None]
    return np.where(hit.any(axis=1), hit.argmax(axis=1), num_items)


def item_vectors(model: TIGERConfig, features: ItemFeatures | None, num_items: int, progress: bool) -> np.ndarray:
    """`(num_items + 1, D)` content vectors the RQ-VAE quantises (row 0: padding)."""
    source = model.semantic_ids
    if source.content == "attributes":
        return attribute_vectors(features, num_items)
    from dynint.pretrained import encode_texts, load_text_embedder

    try:
        documents = documents_from_features(features, num_items, None)
    except ConfigError as error:
        raise ConfigError(
            f"model.semantic_ids.content='text': {error}; for attribute ids set model.semantic_ids.content=attributes"
        ) from None
    embedder = load_text_embedder(source.encoder)
    described = np.flatnonzero([bool(document) for document in documents])
    vectors = np.zeros((num_items + 1, embedder.dimension), dtype=np.float32)
    vectors[described] = encode_texts(embedder, [documents[i] for i in described], progress=progress)
    return vectors


def attribute_vectors(features: ItemFeatures | None, num_items: int) -> np.ndarray:
    """Each item's attribute bag (every token feature, one column per token) as an L2-normalised row."""
    if features is None or not features.tokens:
        raise ConfigError("model.semantic_ids.content='attributes': the data set's items have no attribute tokens")
    blocks = []
    for name in sorted(features.tokens):
        tokens = features.tokens[name]
        width = int(tokens.values.max(initial=0)) + 1
        block = np.zeros((num_items + 1, width), dtype=np.float32)
        block[tokens.row_ids(), tokens.values] = 1.0
        blocks.append(block)
    vectors = np.concatenate(blocks, axis=1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def _check_protocol(config: ExperimentConfig) -> None:
    if config.eval.kind != "full":
        raise ConfigError(f"eval.kind={config.eval.kind!r}: TIGER ranks by generating items; expected 'full'")
    if max(config.eval.ks) > config.model.beam_size:
        raise ConfigError(
            f"eval.ks={list(config.eval.ks)}: K above model.beam_size={config.model.beam_size} cannot be measured "
            "from the beam; raise the beam size or lower the Ks"
        )
    if not config.eval.exclude_seen:
        raise ConfigError("eval.exclude_seen=false: TIGER's generation excludes seen items; expected true")
    if config.eval.beyond_accuracy or config.eval.rerank.kind != "none":
        raise ConfigError("eval.beyond_accuracy and eval.rerank read full-catalogue scores, which TIGER does not give")
