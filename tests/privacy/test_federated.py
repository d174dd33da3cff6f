"""FedAvg: one local step without clipping is SGD on the round's batch; more local steps move
further; DP-FedAvg bounds each client's change; a federated run learns and reports epsilon."""

import json

import jax
import numpy as np
import optax
import pytest

from dynint.errors import ConfigError
from dynint.privacy.config import FederatedConfig
from dynint.privacy.dpsgd import per_user_batches
from dynint.privacy.federated import federated_value_and_grad
from dynint.runner import run_experiment
from tests.privacy.test_dpsgd import setup  # noqa: F401  (the module's shared fixture)
from tests.train.conftest import tiny_config


def test_one_local_step_without_clipping_is_sgd_on_the_rounds_batch(setup):  # noqa: F811
    loss, params, batch = setup
    key = jax.random.key(3)
    value, grads = jax.value_and_grad(loss)(params, batch, key)
    federated = federated_value_and_grad(loss, FederatedConfig(enabled=True, local_steps=1, local_learning_rate=0.5))
    round_value, pseudo = federated(params, batch, key)
    assert float(round_value) == pytest.approx(float(value), rel=1e-5)
    for ours, theirs in zip(jax.tree.leaves(pseudo), jax.tree.leaves(grads), strict=True):
        np.testing.assert_allclose(ours, 0.5 * np.asarray(theirs), atol=1e-6, rtol=1e-4)


def test_clients_take_their_local_steps_on_their_own_data(setup):  # noqa: F811
    loss, params, batch = setup
    key = jax.random.key(5)
    one = federated_value_and_grad(loss, FederatedConfig(enabled=True, local_steps=1, local_learning_rate=0.2))
    three = federated_value_and_grad(loss, FederatedConfig(enabled=True, local_steps=3, local_learning_rate=0.2))
    _, first = one(params, batch, key)
    _, further = three(params, batch, key)
    assert float(optax.tree.norm(further)) > 1.5 * float(optax.tree.norm(first))
    # Each client's three steps lower its own loss: the round's update lowers the batch's loss.
    moved = jax.tree.map(lambda p, g: p - g, params, further)
    assert float(loss(moved, batch, key)) < float(loss(params, batch, key))


def test_dp_fedavg_bounds_what_one_client_can_change(setup):  # noqa: F811
    loss, params, batch = setup
    key = jax.random.key(7)
    clients = int(np.sum(np.asarray(per_user_batches(batch).token_weight).sum(axis=1) > 0))
    clipped = federated_value_and_grad(
        loss, FederatedConfig(enabled=True, local_steps=2, local_learning_rate=1.0), clip_norm=0.01
    )
    _, update = clipped(params, batch, key)
    # Each change is clipped to 0.01 and the mean taken over the clients: the update's norm is at most 0.01.
    assert float(optax.tree.norm(update)) <= 0.01 + 1e-6
    noised = federated_value_and_grad(loss, FederatedConfig(enabled=True), clip_norm=0.01, noise_multiplier=1.0)
    _, noisy = noised(params, batch, key)
    size = sum(leaf.size for leaf in jax.tree.leaves(noisy))
    expected = 0.01 * np.sqrt(size) / clients  # the noise's norm dominates the clipped mean here
    assert 0.8 * expected < float(optax.tree.norm(noisy)) < 1.3 * expected


def test_a_federated_run_learns_and_a_dp_fedavg_run_reports_epsilon(tmp_path):
    federated = {"enabled": True, "local_steps": 2, "local_learning_rate": 0.5}
    base = tiny_config(tmp_path / "base", train={"max_epochs": 4, "patience": 4, "refit_for_test": False})
    plain = run_experiment(base, progress=False)
    fedavg = tiny_config(
        tmp_path / "fed",
        train={
            "max_epochs": 4,
            "patience": 4,
            "refit_for_test": False,
            "federated": federated,
            "optimizer": "sgd",
            "learning_rate": 1.0,
        },
    )
    run = run_experiment(fedavg, progress=False)
    log = [json.loads(line) for line in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
    losses = [entry["train_loss"] for entry in log if "train_loss" in entry]
    assert losses[-1] < losses[0]  # the rounds lower the clients' loss
    assert run.metrics["test"]["NDCG@10"] > 0.5 * plain.metrics["test"]["NDCG@10"]
    private = tiny_config(
        tmp_path / "dp",
        train={
            "max_epochs": 2,
            "patience": 2,
            "refit_for_test": False,
            "federated": federated,
            "optimizer": "sgd",
            "learning_rate": 1.0,
            "privacy": {"enabled": True, "clip_norm": 1.0, "noise_multiplier": 1.0},
        },
    )
    dp_run = run_experiment(private, progress=False)
    epsilons = [json.loads(line).get("epsilon") for line in (dp_run.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [e for e in epsilons if e is not None] == sorted(e for e in epsilons if e is not None) and any(epsilons)


def test_bad_federated_settings_are_refused_by_name():
    with pytest.raises(ConfigError, match="train.federated.local_steps=0"):
        FederatedConfig(local_steps=0)
    with pytest.raises(ConfigError, match="train.federated.local_learning_rate=0"):
        FederatedConfig(local_learning_rate=0)
