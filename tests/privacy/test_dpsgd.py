"""DP-SGD: without noise or clipping it is the ordinary gradient; clipping bounds what any one user
can change; the accountant's epsilon is dp-accounting's; a private run reports its epsilon."""

import json
import math
from pathlib import Path

import dp_accounting
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from dp_accounting import rdp
from flax import nnx

from dynint.data.prepared import prepare_data
from dynint.errors import ConfigError
from dynint.models import MODELS
from dynint.privacy.accounting import epsilon_spent, noise_for_epsilon
from dynint.privacy.config import PrivacyConfig
from dynint.privacy.dpsgd import per_user_batches, private_value_and_grad
from dynint.runner import run_experiment
from dynint.train.batching import SequenceBatcher
from dynint.train.state import split_model
from dynint.train.step import sequence_loss_fn
from tests.train.conftest import tiny_config


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    config = tiny_config(tmp_path_factory.mktemp("dp"), model={"dropout": 0.0})
    data = prepare_data(config)
    config_class, module = MODELS["sasrec"]
    model = module(config.model, data.split.num_items, config.train.max_length, rngs=nnx.Rngs(params=0))
    graphdef, params = split_model(model)
    batcher = SequenceBatcher.for_training(data.split.train, model.objective, config.train)
    batch = jax.tree.map(jnp.asarray, batcher.epoch(0, 1)[0])
    return sequence_loss_fn(graphdef, config.model), params, batch


def test_per_user_batches_hold_every_predicted_position_once(setup):
    _, _, batch = setup
    users = per_user_batches(batch)
    assert float(users.token_weight.sum()) == float(batch.token_weight.sum())
    flat = np.asarray(users.token_target).reshape(-1)
    np.testing.assert_array_equal(
        flat[np.asarray(batch.token_index)[np.asarray(batch.token_weight) > 0]],
        np.asarray(batch.token_target)[np.asarray(batch.token_weight) > 0],
    )


def test_without_noise_or_clipping_the_private_gradient_is_the_ordinary_one(setup):
    loss, params, batch = setup
    key = jax.random.key(3)
    value, grads = jax.value_and_grad(loss)(params, batch, key)
    private_value, private = private_value_and_grad(loss, math.inf, 0.0)(params, batch, key)
    assert float(private_value) == pytest.approx(float(value), rel=1e-5)
    for ours, theirs in zip(jax.tree.leaves(private), jax.tree.leaves(grads), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-6, rtol=1e-4)


def test_clipping_bounds_what_one_user_can_change(setup):
    loss, params, batch = setup
    clip, key = 0.5, jax.random.key(4)
    step = private_value_and_grad(loss, clip, 0.0)
    _, before = step(params, batch, key)
    # Another data set that differs in one user: row 0's items replaced by others, and its loss blown up
    # by an embedding scaled a thousandfold for the items it now holds.
    changed = batch._replace(inputs=batch.inputs.at[0].set(jnp.where(batch.inputs[0] > 0, 1, 0)))
    huge = jax.tree.map(lambda x: x, params)
    huge["embed"]["items"]["embedding"] = huge["embed"]["items"]["embedding"].at[1].multiply(1000.0)
    _, ordinary = jax.value_and_grad(loss)(huge, changed, key)
    _, after = step(huge, changed, key)
    _, huge_before = step(huge, batch, key)
    users = float(jnp.sum(jnp.sum(per_user_batches(batch).token_weight, axis=1) > 0))
    assert float(optax.tree.norm(ordinary)) > 10 * clip  # unclipped, that user dominates the gradient
    difference = jax.tree.map(lambda a, b: a - b, after, huge_before)
    assert float(optax.tree.norm(difference)) <= 2 * clip / users + 1e-6
    assert float(optax.tree.norm(before)) <= clip + 1e-6


def test_a_batch_clipped_in_chunks_takes_the_same_step_as_all_at_once(setup):
    loss, params, batch = setup
    key = jax.random.key(6)
    rows = batch.item_ids.shape[0]
    whole_value, whole = private_value_and_grad(loss, 0.5, 2.0)(params, batch, key)
    for chunk in (3, rows - 1):  # chunks that do not divide the batch: the last one is padded
        assert rows % chunk
        value, chunked = private_value_and_grad(loss, 0.5, 2.0, chunk_size=chunk)(params, batch, key)
        assert float(value) == pytest.approx(float(whole_value), rel=1e-5)
        for ours, theirs in zip(jax.tree.leaves(chunked), jax.tree.leaves(whole), strict=True):
            np.testing.assert_allclose(ours, theirs, atol=1e-6, rtol=1e-4)


def test_noise_has_the_configured_scale(setup):
    loss, params, batch = setup
    clip, sigma = 0.5, 2.0
    _, clean = private_value_and_grad(loss, clip, 0.0)(params, batch, jax.random.key(5))
    _, noisy = private_value_and_grad(loss, clip, sigma)(params, batch, jax.random.key(5))
    users = float(jnp.sum(jnp.sum(per_user_batches(batch).token_weight, axis=1) > 0))
    noise = np.concatenate(
        [np.ravel(a - b) for a, b in zip(jax.tree.leaves(noisy), jax.tree.leaves(clean), strict=True)]
    )
    assert np.std(noise) == pytest.approx(sigma * clip / users, rel=0.05)


def test_epsilon_is_dp_accountings_and_grows_with_steps_and_shrinks_with_noise():
    accountant = rdp.RdpAccountant()
    accountant.compose(dp_accounting.PoissonSampledDpEvent(256 / 60000, dp_accounting.GaussianDpEvent(1.1)), 14000)
    assert epsilon_spent(1.1, 256 / 60000, 14000, 1e-5) == pytest.approx(accountant.get_epsilon(1e-5))
    assert epsilon_spent(1.1, 0.01, 200, 1e-5) < epsilon_spent(1.1, 0.01, 400, 1e-5)
    assert epsilon_spent(2.0, 0.01, 400, 1e-5) < epsilon_spent(1.1, 0.01, 400, 1e-5)
    assert epsilon_spent(1.0, 0.01, 0, 1e-5) == 0.0 and epsilon_spent(0.0, 0.01, 10, 1e-5) == math.inf


def test_a_private_run_reports_epsilon_each_epoch_and_stops_at_its_target(tmp_path):
    privacy = {"enabled": True, "clip_norm": 1.0, "noise_multiplier": 0.8, "target_epsilon": 8.0}
    config = tiny_config(tmp_path, train={"max_epochs": 30, "patience": 30, "privacy": privacy})
    run = run_experiment(config, progress=False)
    log = [json.loads(line) for line in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
    spent = [entry["epsilon"] for entry in log if "epsilon" in entry]
    assert spent == sorted(spent) and spent[0] > 0
    assert spent[-1] >= 8.0 > spent[-2] and len(spent) < 30  # stopped by the budget, not by max_epochs
    result = json.loads((Path(run.run_dir) / "result.json").read_text())
    assert result["extra"]["epsilon"] == spent[-1] and result["extra"]["delta"] == pytest.approx(1 / 150)


def test_bad_privacy_settings_are_refused_by_name(tmp_path):
    with pytest.raises(ConfigError, match="train.privacy.noise_multiplier=-1"):
        PrivacyConfig(noise_multiplier=-1)
    with pytest.raises(ConfigError, match="train.privacy.chunk_size=0"):
        PrivacyConfig(chunk_size=0)
    with pytest.raises(ConfigError, match="finite clip_norm"):
        PrivacyConfig(clip_norm=math.inf, noise_multiplier=1.0)
    with pytest.raises(ConfigError, match="refit_for_test"):
        tiny_config(tmp_path, train={"refit_for_test": True, "privacy": {"enabled": True}})


def test_the_calibrated_noise_spends_the_target_epsilon_and_no_more():
    sigma = noise_for_epsilon(4.0, 128 / 943, 400, 1 / 943)
    assert epsilon_spent(sigma, 128 / 943, 400, 1 / 943) <= 4.0
    assert epsilon_spent(sigma * 0.99, 128 / 943, 400, 1 / 943) > 4.0
