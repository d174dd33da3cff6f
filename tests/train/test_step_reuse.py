"""Later fits reuse the step an earlier fit traced and compiled for the same loss and settings,
and train exactly as a fresh step would."""

import jax
import jax.numpy as jnp
import numpy as np

from dynint.train import sharding
from dynint.train.config import TrainConfig
from dynint.train.loop import fit
from dynint.train.optim import optimizer_key
from dynint.train.step_reuse import shared_optimizer


class _Batches:
    def num_batches(self, seed, epoch):
        return 4

    def epoch(self, seed, epoch):
        rng = np.random.default_rng([seed, epoch])
        return [{"x": rng.normal(size=(8, 3)).astype(np.float32)} for _ in range(4)]

    def examples(self, batch):
        return 8.0


def _counting_loss():
    traces = []

    def loss(params, batch, key):
        traces.append(1)  # runs only while jax traces the step
        return jnp.mean((batch["x"] @ params["w"] - 1.0) ** 2)

    return loss, traces


def _fit(run_dir, loss, **train):
    return fit(
        train=TrainConfig(**{"max_epochs": 2, "learning_rate": 0.05, "checkpoint": False, **train}),
        seed=0,
        key=jax.random.key(0),
        params={"w": jnp.zeros(3)},
        loss=loss,
        batches=_Batches(),
        mesh=sharding.make_mesh(1),
        validate=None,
        run_dir=run_dir,
        progress=False,
    )


def test_a_second_fit_of_the_same_loss_and_settings_traces_nothing_and_trains_the_same(tmp_path):
    loss, traces = _counting_loss()
    first = _fit(tmp_path / "a", loss)
    traced = len(traces)
    assert traced > 0
    second = _fit(tmp_path / "b", loss)
    assert len(traces) == traced  # the compiled step was reused
    np.testing.assert_array_equal(np.asarray(first.best_params["w"]), np.asarray(second.best_params["w"]))
    # Other settings build (and trace) their own step; a fresh loss object does too, with the same result.
    _fit(tmp_path / "c", loss, learning_rate=0.01)
    assert len(traces) > traced
    fresh, fresh_traces = _counting_loss()
    third = _fit(tmp_path / "d", fresh)
    assert len(fresh_traces) > 0
    np.testing.assert_array_equal(np.asarray(third.best_params["w"]), np.asarray(first.best_params["w"]))


def test_the_optimizer_is_shared_only_where_its_settings_and_schedule_agree():
    constant = TrainConfig(learning_rate=0.01)
    assert shared_optimizer(constant, 100) is shared_optimizer(constant, 200)  # a constant rate ignores the length
    cosine = TrainConfig(learning_rate=0.01, schedule="cosine")
    assert optimizer_key(cosine, 100) != optimizer_key(cosine, 200)
    assert shared_optimizer(cosine, 100) is not shared_optimizer(cosine, 200)
    assert shared_optimizer(constant, 100) is not shared_optimizer(TrainConfig(learning_rate=0.02), 100)
