"""Properties every CTR model must have: padding never matters, gradients are finite, and dropout
acts only when keys are given."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from dynint.models.dropout import DropoutKeys
from tests.models.ctr.tiny_ctr import MODEL_NAMES, set_padding_embeddings, tiny_batch, tiny_model, total_loss


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_padding_length_and_padding_embeddings_change_neither_logits_nor_auxiliary_loss(name):
    model = tiny_model(name)
    logits, auxiliary = model(tiny_batch(), dropout=None)
    set_padding_embeddings(model, 100.0)
    padded_logits, padded_auxiliary = model(tiny_batch(length=11), dropout=None)
    np.testing.assert_allclose(padded_logits, logits, atol=1e-5)
    np.testing.assert_allclose(padded_auxiliary, auxiliary, atol=1e-6)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_gradients_are_finite_and_reach_the_item_embeddings(name):
    model = tiny_model(name)
    grads = nnx.grad(total_loss)(model, tiny_batch())
    leaves = jax.tree.leaves(grads)
    assert all(np.all(np.isfinite(leaf)) for leaf in leaves)
    assert np.any(grads.embedding.items.embedding.value[1:] != 0)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_dropout_changes_outputs_only_when_keys_are_given(name):
    model = tiny_model(name, dropout=0.5)
    batch = tiny_batch()
    plain, _ = model(batch, dropout=None)
    np.testing.assert_array_equal(model(batch, dropout=None)[0], plain)
    dropped, _ = model(batch, dropout=DropoutKeys(jax.random.key(0)))
    assert not np.allclose(dropped, plain)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_logits_have_one_entry_per_row_and_the_auxiliary_loss_is_a_scalar(name):
    logits, auxiliary = tiny_model(name)(tiny_batch(), dropout=None)
    assert logits.shape == (4,) and auxiliary.shape == ()
    assert (float(auxiliary) > 0) == (name == "dien")
