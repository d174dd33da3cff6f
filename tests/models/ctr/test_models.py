"""Properties every CTR model must have: padding never matters, gradients are finite, and dropout
acts only when keys are given."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from tests.models.ctr.tiny_ctr import (
    MODEL_NAMES,
    forward,
    forward_with_dropout,
    set_padding_embeddings,
    tiny_batch,
    tiny_model,
    total_loss_gradients,
)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_padding_length_and_padding_embeddings_change_neither_logits_nor_auxiliary_loss(name):
    model = tiny_model(name)
    logits, auxiliary = forward(model, tiny_batch())
    set_padding_embeddings(model, 100.0)
    padded_logits, padded_auxiliary = forward(model, tiny_batch(length=11))
    np.testing.assert_allclose(padded_logits, logits, atol=1e-5)
    np.testing.assert_allclose(padded_auxiliary, auxiliary, atol=1e-6)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_gradients_are_finite_and_reach_the_item_embeddings(name):
    model = tiny_model(name)
    grads = total_loss_gradients(model, tiny_batch())
    leaves = jax.tree.leaves(grads)
    assert all(np.all(np.isfinite(leaf)) for leaf in leaves)
    assert np.any(grads["embedding"]["items"]["embedding"][...][1:] != 0)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_dropout_changes_outputs_only_when_keys_are_given(name):
    model = tiny_model(name)
    batch = tiny_batch()
    plain, _ = forward(model, batch)
    np.testing.assert_array_equal(forward(model, batch)[0], plain)
    dropped, _ = forward_with_dropout(model, batch, jax.random.key(0))
    assert not np.allclose(dropped, plain)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_logits_have_one_entry_per_row_and_the_auxiliary_loss_is_a_scalar(name):
    logits, auxiliary = forward(tiny_model(name), tiny_batch())
    assert logits.shape == (4,) and auxiliary.shape == ()
    assert (float(auxiliary) > 0) == (name == "dien")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_parameters_are_strongly_typed_so_the_train_step_compiles_once(name):
    # A weakly typed parameter turns strong at the first optimizer update (and its moments at the
    # next), and each change of type compiles the train step again.
    state = nnx.to_pure_dict(nnx.state(tiny_model(name), nnx.Param))
    weak = [
        jax.tree_util.keystr(path) for path, leaf in jax.tree_util.tree_leaves_with_path(state) if leaf.aval.weak_type
    ]
    assert weak == []
