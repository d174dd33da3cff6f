"""Multitask models: gates are distributions, PLE reduces to MMoE, and no loss reads the like
label of a sample that was not engaged."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from dynint.models.ctr.config import BSTConfig
from dynint.models.mixture_of_experts import MixtureOfExpertsConfig
from dynint.models.multitask.config import MMoEConfig
from dynint.models.multitask.losses import task_losses
from dynint.train.multitask_experiment import multitask_loss_fn
from tests.models.multitask.tiny_multitask import (
    LIKE_THRESHOLD,
    MODEL_NAMES,
    RATINGS,
    forward,
    loss_and_gradients,
    tiny_model,
    tiny_rated_batch,
)


@pytest.mark.parametrize("name", ["mmoe", "ple"])
def test_gates_are_distributions_over_experts(name):
    outputs = forward(tiny_model(name), tiny_rated_batch())
    assert outputs.gates
    for weights in outputs.gates.values():
        weights = np.asarray(weights)
        assert np.all(weights >= 0)
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-6)


def test_ple_gates_cover_own_and_shared_experts_at_every_level():
    outputs = forward(tiny_model("ple"), tiny_rated_batch())  # two levels, one own and two shared experts
    widths = {name: w.shape[1] for name, w in outputs.gates.items()}
    tasks = ("engagement", "like", "rating")
    assert widths == {
        **{f"level{level}/{task}": 3 for level in (1, 2) for task in tasks},
        "level1/shared": 3 * 1 + 2,  # the last level has no shared output
    }


def test_ple_with_one_level_and_no_task_experts_computes_mmoes_function():
    mmoe = tiny_model("mmoe", num_experts=3)
    ple = tiny_model("ple", num_levels=1, num_task_experts=0, num_shared_experts=3)
    mmoe_params = nnx.to_pure_dict(nnx.state(mmoe))
    ple_params = nnx.to_pure_dict(nnx.state(ple))
    level = ple_params["levels"][0]
    assert set(level) == {"shared_experts", "task_gates"}  # no task-specific experts, no shared gate
    level["shared_experts"] = mmoe_params["experts"]
    level["task_gates"] = mmoe_params["gates"]
    ple_params["encoder"], ple_params["towers"] = mmoe_params["encoder"], mmoe_params["towers"]
    nnx.replace_by_pure_dict(state := nnx.state(ple), ple_params)
    nnx.update(ple, state)

    expected, got = forward(mmoe, tiny_rated_batch()), forward(ple, tiny_rated_batch())
    for task in ("engagement", "like", "rating"):
        np.testing.assert_allclose(got.outputs[task], expected.outputs[task], atol=1e-6)
        np.testing.assert_allclose(got.gates[f"level1/{task}"], expected.gates[task], atol=1e-6)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_like_labels_of_non_engaged_samples_change_neither_loss_nor_gradients(name):
    model = tiny_model(name)
    loss, grads = loss_and_gradients(model, tiny_rated_batch())
    perturbed = np.where(tiny_rated_batch().labels > 0, RATINGS, 5.0).astype(np.float32)  # would be liked
    perturbed_loss, perturbed_grads = loss_and_gradients(model, tiny_rated_batch(perturbed))
    assert float(perturbed_loss) == float(loss)
    jax.tree.map(np.testing.assert_array_equal, perturbed_grads, grads)


def test_esmm_trains_pctcvr_on_every_sample():
    model = tiny_model("esmm")
    outputs = forward(model, tiny_rated_batch())
    losses = task_losses(outputs, tiny_rated_batch(), LIKE_THRESHOLD, entire_space=True)
    p_ctr = jax.nn.sigmoid(outputs.outputs["engagement"])
    p_ctcvr = p_ctr * jax.nn.sigmoid(outputs.outputs["like"])
    ctcvr = np.array([1.0, 0.0, 0.0, 0.0])  # only row 0 is engaged and liked
    expected = -np.mean(ctcvr * np.log(p_ctcvr) + (1 - ctcvr) * np.log(1 - p_ctcvr))
    np.testing.assert_allclose(losses["like"], expected, rtol=1e-5)


def test_non_esmm_like_and_rating_losses_average_over_engaged_samples_only():
    model = tiny_model("shared-bottom")
    outputs = forward(model, tiny_rated_batch())
    losses = task_losses(outputs, tiny_rated_batch(), LIKE_THRESHOLD, entire_space=False)
    p_like = np.asarray(jax.nn.sigmoid(outputs.outputs["like"]))
    np.testing.assert_allclose(losses["like"], -(np.log(p_like[0]) + np.log(1 - p_like[2])) / 2, rtol=1e-5)
    rating = np.asarray(outputs.outputs["rating"])
    np.testing.assert_allclose(losses["rating"], ((rating[0] - 5.0) ** 2 + (rating[2] - 2.0) ** 2) / 2, rtol=1e-5)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_gradients_are_finite_and_reach_every_tower(name):
    _, grads = loss_and_gradients(tiny_model(name), tiny_rated_batch())
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(grads))
    for tower in grads["towers"].values():
        assert np.any(np.asarray(tower["output"]["kernel"][...]) != 0)


def test_a_transformer_encoder_with_experts_adds_its_balancing_loss_to_the_multitask_loss():
    losses = {}
    for weight in (0.0, 1.0):
        moe = MixtureOfExpertsConfig(num_experts=4, top_k=2, balance_weight=weight)
        encoder = BSTConfig(embedding_size=4, num_heads=2, moe=moe)
        config = MMoEConfig(encoder=encoder)  # the loss reads the tasks and their weights only
        graphdef, params = nnx.split(tiny_model("mmoe", encoder=encoder))
        batch = tiny_rated_batch()
        losses[weight] = float(multitask_loss_fn(graphdef, config)(params, batch, jax.random.key(3)))
    # The encoder's one block sows one balancing loss of about 1; nothing else differs.
    assert 0.5 < losses[1.0] - losses[0.0] < 4
