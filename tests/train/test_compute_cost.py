"""The training-cost estimate of a sequential model: its body excludes exactly the embedding tables,
and its operations per example agree with what XLA counts in the compiled training step."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from dynint.data.ragged import Ragged
from dynint.models.hstu import HSTU, HSTUConfig
from dynint.models.sasrec import SASRec, SASRecConfig
from dynint.train.batching import SequenceBatcher
from dynint.train.compute_cost import flops_to_epoch, non_embedding_parameters, training_flops_per_example
from dynint.train.optim import trainable_parameters
from dynint.train.state import split_model
from dynint.train.step import sequence_loss_fn

NUM_ITEMS, LENGTH = 500, 32


def _sasrec(width: int, depth: int) -> tuple[SASRecConfig, SASRec]:
    config = SASRecConfig(hidden_size=width, num_layers=depth, num_heads=2, inner_size=4 * width, loss="ce")
    return config, SASRec(config, NUM_ITEMS, LENGTH, rngs=nnx.Rngs(params=0))


def test_the_body_is_every_trainable_value_outside_the_item_and_position_tables():
    _, model = _sasrec(32, 2)
    params = trainable_parameters(split_model(model)[1])
    total = sum(int(leaf.size) for leaf in jax.tree.leaves(params))
    tables = params["embed"]["items"]["embedding"].size + params["embed"]["positions"]["embedding"].size
    assert non_embedding_parameters(params) == total - tables
    # Two layers: attention (4 d^2 + 4 d), feed-forward (8 d^2 + 5 d), two norms (4 d); the final norm (2 d).
    assert non_embedding_parameters(params) == 2 * (12 * 32 * 32 + 13 * 32) + 2 * 32


@pytest.mark.parametrize("build", ["sasrec", "hstu"])
def test_the_estimate_is_within_a_quarter_of_xla_s_count_for_full_length_batches(build):
    if build == "sasrec":
        config, model = _sasrec(96, 3)
    else:
        config = HSTUConfig(hidden_size=96, num_layers=3, num_heads=2, loss="ce")
        model = HSTU(config, NUM_ITEMS, LENGTH, rngs=nnx.Rngs(params=0))
    graphdef, params = split_model(model)
    rows = np.random.default_rng(0).integers(1, NUM_ITEMS + 1, size=(64, LENGTH + 1))
    shape = {"max_length": LENGTH, "buckets": (LENGTH,), "batch_size": 64, "max_tokens": 4096}
    batcher = SequenceBatcher(Ragged.from_rows(list(rows)), model.objective, **shape)
    [batch] = batcher.epoch(0, 1)
    assert int(np.sum(batch.token_weight > 0)) == 64 * LENGTH  # every position predicts: no padding
    loss = sequence_loss_fn(graphdef, config)
    compiled = jax.jit(jax.grad(loss)).lower(params, batch, jax.random.key(0)).compile()
    analysis = compiled.cost_analysis()
    counted = (analysis[0] if isinstance(analysis, list) else analysis)["flops"] / (64 * LENGTH)
    estimate = training_flops_per_example(
        config, non_embedding_parameters(trainable_parameters(params)), LENGTH, NUM_ITEMS
    )
    assert 0.75 < estimate / counted < 1.25, (estimate, counted)


def test_flops_to_an_epoch_count_only_the_examples_up_to_it():
    history = [{"examples": 100}, {"examples": 120}, {"examples": 90}]
    assert flops_to_epoch(history, 2, 10.0) == 2200.0
    assert flops_to_epoch(history, 3, 10.0) == 3100.0
