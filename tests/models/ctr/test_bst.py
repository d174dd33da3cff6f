"""BST: the target joins the behaviours, and the heads must divide the item vector."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from dynint.config import load_config
from dynint.errors import ConfigError
from dynint.models.mixture_of_experts import MixtureOfExpertsConfig
from dynint.train.ctr_experiment import ctr_loss_fn
from tests.models.ctr.tiny_ctr import forward, tiny_batch, tiny_model, with_histories


def test_heads_that_do_not_divide_the_item_vector_fail_loudly():
    with pytest.raises(ConfigError, match="num_heads"):
        tiny_model("bst", num_heads=3)  # items are 2 fields of 4


def test_the_logit_depends_on_the_order_of_behaviours():
    model, batch = tiny_model("bst"), tiny_batch()
    histories = batch.histories.copy()
    histories[0, :3] = histories[0, 2::-1]
    reordered = with_histories(batch, histories)
    before, after = np.asarray(forward(model, batch)[0]), np.asarray(forward(model, reordered)[0])
    assert after[0] != pytest.approx(before[0], abs=1e-6)
    np.testing.assert_allclose(after[1:], before[1:], atol=1e-6)


def test_bst_with_experts_adds_the_weighted_balancing_loss_to_the_ctr_training_loss():
    losses = {}
    for weight in (0.0, 1.0):
        moe = MixtureOfExpertsConfig(num_experts=4, top_k=2, balance_weight=weight)
        graphdef, params = nnx.split(tiny_model("bst", moe=moe))
        losses[weight] = float(ctr_loss_fn(graphdef)(params, tiny_batch(), jax.random.key(3)))
    # One block sowing one balancing loss of about 1 (>= 1 only in expectation); nothing else differs.
    assert 0.5 < losses[1.0] - losses[0.0] < 4


def test_bst_experts_are_a_config_choice_of_the_ctr_models(tmp_path):
    path = tmp_path / "bst.yaml"
    path.write_text("name: bst\ndata:\n  name: synthetic\nmodel:\n  name: bst\n")
    config = load_config(path, ["model.moe.num_experts=4", "model.moe.top_k=2"])
    assert config.model.moe == MixtureOfExpertsConfig(num_experts=4, top_k=2)
