import json
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dynint.config.loader import dump_config
from dynint.errors import ConfigError
from dynint.eval.ranking import evaluate_ranking
from dynint.runner import run_experiment
from dynint.train.loop import LoopProgress, stopping_epoch
from dynint.train.scoring import SequenceScorer
from dynint.train.state import split_model
from tests.train.conftest import tiny_config


def _log(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _without_times(entries):
    return [{k: v for k, v in e.items() if not k.endswith("_s")} for e in entries]


def test_metrics_log_has_one_line_per_epoch_then_the_test_line_of_the_best_epoch(reference_run):
    log = _log(reference_run.run_dir)
    epochs, test = log[:-1], log[-1]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    for entry in epochs:
        assert {"train_loss", "train_time_s", "valid_time_s", "examples_per_s", "valid"} <= entry.keys()
        assert entry["valid"]["NDCG@10"] >= 0
    best = reference_run.extra["best_epoch"]
    assert test["stage"] == "test" and test["epoch"] == best
    assert reference_run.metrics["valid"] == epochs[best - 1]["valid"]
    assert best == 1 + int(np.argmax([e["valid"]["NDCG@10"] for e in epochs]))
    result = json.loads((reference_run.run_dir / "result.json").read_text())
    assert result["extra"]["best_epoch"] == best and len(result["extra"]["epoch_train_time_s"]) == 3


def test_training_improves_validation_ndcg_over_the_untrained_model(reference_run, tiny_data, tmp_path):
    from flax import nnx

    from dynint.models import SASRec

    config = tiny_config(tmp_path)
    split = tiny_data.split
    model = SASRec(config.model, split.num_items, config.train.max_length, rngs=nnx.Rngs(params=0))
    graphdef, params = split_model(model)
    scorer = SequenceScorer(graphdef, params, model.objective, max_length=12, buckets=(12,))
    untrained = evaluate_ranking(scorer, split.valid, split.num_items, config.eval, progress=False)
    assert reference_run.metrics["valid"]["NDCG@10"] > untrained["NDCG@10"] + 0.02


def test_same_seed_gives_identical_metrics(reference_run, tiny_data, tmp_path):
    again = run_experiment(tiny_config(tmp_path), data=tiny_data, progress=False)
    assert again.metrics == reference_run.metrics
    assert _without_times(_log(again.run_dir)) == _without_times(_log(reference_run.run_dir))


_KILLED_AFTER_FIRST_EPOCH = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from dynint.data.prepared import prepare_data
    from dynint.runner import run_directory
    from dynint.train.experiment import train_and_evaluate
    from tests.train.conftest import tiny_config

    config = tiny_config(Path(sys.argv[1]))
    run_dir = run_directory(config)
    run_dir.mkdir(parents=True)

    def die(epoch):
        if epoch == 1:
            os.kill(os.getpid(), signal.SIGKILL)

    train_and_evaluate(config, prepare_data(config), run_dir, progress=False, on_epoch_end=die)
    """
)


def _run_until_killed(script: str, output_dir) -> None:
    """Run `script` (which kills its own process) in a subprocess writing under `output_dir`."""
    killed = subprocess.run(
        [sys.executable, "-c", script, str(output_dir)],
        cwd=os.getcwd(),
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr


def test_resuming_a_killed_run_ends_with_the_metrics_of_an_uninterrupted_run(reference_run, tiny_data, tmp_path):
    _run_until_killed(_KILLED_AFTER_FIRST_EPOCH, tmp_path)
    resumed = run_experiment(tiny_config(tmp_path, train={"resume": True}), data=tiny_data, progress=False)
    assert resumed.metrics == reference_run.metrics
    assert _without_times(_log(resumed.run_dir)) == _without_times(_log(reference_run.run_dir))


def test_early_stopping_counts_epochs_since_the_best_one():
    progress = LoopProgress()
    improved = [progress.record(epoch, value, {"epoch": epoch}) for epoch, value in enumerate([0.1, 0.3, 0.3, 0.2], 1)]
    assert improved == [True, True, False, False]
    assert (progress.best_epoch, progress.best_value, progress.bad_epochs) == (2, 0.3, 2)
    assert LoopProgress.from_json(json.loads(json.dumps(progress.to_json()))) == progress


def test_a_finished_run_resumed_trains_no_further_and_only_with_its_own_settings(tiny_data, tmp_path):
    first = run_experiment(tiny_config(tmp_path, train={"max_epochs": 1}), data=tiny_data, progress=False)
    resumed = tiny_config(tmp_path, train={"max_epochs": 1, "resume": True})
    again = run_experiment(resumed, data=tiny_data, progress=False)
    assert again.metrics == first.metrics and again.extra["epochs"] == 1
    changed = tiny_config(tmp_path, train={"max_epochs": 1, "resume": True, "learning_rate": 0.5})
    files = {path: path.read_bytes() for path in first.run_dir.iterdir() if path.is_file()}
    with pytest.raises(ConfigError, match="other settings.*train"):
        run_experiment(changed, data=tiny_data, progress=False)
    assert {path: path.read_bytes() for path in first.run_dir.iterdir() if path.is_file()} == files  # as it was


def test_stopping_epoch_is_where_the_wait_since_the_best_epoch_reaches_the_patience():
    values = [0.1, 0.3, 0.2, 0.3, 0.4, 0.1]
    assert [stopping_epoch(values, patience) for patience in (1, 2, 3)] == [3, 4, None]


def test_a_run_stopped_early_resumed_with_more_patience_is_the_run_that_had_it(tiny_data, tmp_path):
    def config(folder, patience, **train):
        settings = {"max_epochs": 12, "patience": patience, "refit_for_test": True, **train}
        return tiny_config(tmp_path / folder, train=settings)

    impatient = run_experiment(config("resumed", 1), data=tiny_data, progress=False)
    assert impatient.extra["epochs"] < 12  # it stopped early, so there is something to continue
    resumed = run_experiment(config("resumed", 4, resume=True), data=tiny_data, progress=False)
    patient = run_experiment(config("uninterrupted", 4), data=tiny_data, progress=False)
    assert resumed.extra["best_epoch"] > impatient.extra["best_epoch"]  # so the refit ran again, longer
    assert resumed.metrics == patient.metrics
    assert resumed.extra["refit_epochs"] == patient.extra["refit_epochs"]
    assert _without_times(_log(resumed.run_dir)) == _without_times(_log(patient.run_dir))
    assert _without_times(_log(resumed.run_dir / "refit")) == _without_times(_log(patient.run_dir / "refit"))
    refit_checkpoints = resumed.run_dir / "checkpoints" / "refit"
    assert [p.name for p in refit_checkpoints.iterdir()] == [f"{resumed.extra['refit_epochs']}-epochs"]
    with pytest.raises(ConfigError, match="train.patience=1.*epoch"):  # it would have stopped sooner
        run_experiment(config("uninterrupted", 1, resume=True), data=tiny_data, progress=False)


def test_an_unknown_early_stopping_metric_fails_before_training(tiny_data, tmp_path):
    config = tiny_config(tmp_path, train={"early_stopping_metric": "NDCG@3"})
    with pytest.raises(ConfigError, match="NDCG@10"):
        run_experiment(config, data=tiny_data, progress=False)


_KILLED_DURING_THE_REFIT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from dynint.data.prepared import prepare_data
    from dynint.runner import run_directory
    from dynint.train.experiment import train_and_evaluate
    from tests.train.conftest import tiny_config

    config = tiny_config(Path(sys.argv[1]), train={"refit_for_test": True})
    run_dir = run_directory(config)
    run_dir.mkdir(parents=True)

    def die(epoch):
        if (run_dir / "refit" / "metrics.jsonl").exists() and epoch == 1:
            os.kill(os.getpid(), signal.SIGKILL)

    train_and_evaluate(config, prepare_data(config), run_dir, progress=False, on_epoch_end=die)
    """
)


@pytest.fixture(scope="module")
def refit_run(tiny_data, tmp_path_factory):
    config = tiny_config(tmp_path_factory.mktemp("refit"), train={"refit_for_test": True})
    return run_experiment(config, data=tiny_data, progress=False)


def test_refit_trains_for_the_best_epoch_count_on_the_events_visible_at_test(refit_run, reference_run, tiny_data):
    best = refit_run.extra["best_epoch"]
    assert refit_run.extra["refit_epochs"] == best
    assert refit_run.metrics["valid"] == reference_run.metrics["valid"]  # the validation phase is the plain run
    assert refit_run.extra["test_before_refit"] == reference_run.metrics["test"]
    refit_log = _log(refit_run.run_dir / "refit")
    assert [e["epoch"] for e in refit_log] == list(range(1, best + 1))
    assert all(e["valid"] == {} for e in refit_log)
    split = tiny_data.split
    visible = split.visible("test")
    assert np.array_equal(visible.lengths, split.train.lengths + 1)  # each user's validation item, appended
    assert np.array_equal(visible.values[visible.offsets[1:] - 1], split.valid.targets)

    def predicted_positions(sequences):  # the last max_length + 1 items of each sequence: max_length targets
        return int(np.sum(np.minimum(sequences.lengths, 13) - 1))

    assert _log(refit_run.run_dir)[0]["examples"] == predicted_positions(split.train)
    assert refit_log[0]["examples"] == predicted_positions(visible) > predicted_positions(split.train)
    assert refit_run.metrics["test"] != refit_run.extra["test_before_refit"]


def test_a_run_killed_during_its_refit_resumes_to_the_uninterrupted_metrics(refit_run, tiny_data, tmp_path):
    _run_until_killed(_KILLED_DURING_THE_REFIT, tmp_path)
    assert len(_log(tmp_path / "tiny" / "synthetic" / "seed0" / "refit")) == 1
    resumed = run_experiment(
        tiny_config(tmp_path, train={"refit_for_test": True, "resume": True}), data=tiny_data, progress=False
    )
    assert resumed.metrics == refit_run.metrics


def test_ctr_runs_refuse_the_refit(tiny_data, tmp_path):
    from dynint.train.experiment import train_then_test

    config = tiny_config(tmp_path, train={"refit_for_test": True})
    with pytest.raises(ConfigError, match="refit_for_test"):
        train_then_test(config, {}, None, None, None, None, tmp_path, False, None)


class _ToyBatches:
    """Five batches of four rows per epoch for a linear model; the batches at the `(epoch, index)`
    pairs of `poison` have an infinite loss (with a finite gradient)."""

    def __init__(self, poison=()):
        self.poison = set(poison)

    def num_batches(self, seed, epoch):
        return 5

    def epoch(self, seed, epoch):
        rng = np.random.default_rng([seed, epoch])
        return [
            {
                "x": rng.normal(size=(4, 3)).astype(np.float32),
                "poison": np.full(4, np.inf if (epoch, index) in self.poison else 0.0, np.float32),
            }
            for index in range(5)
        ]

    def examples(self, batch):
        return 4.0


def _toy_loss(params, batch, key):
    import jax.numpy as jnp

    return jnp.mean((batch["x"] @ params["w"] - 1.0) ** 2) + jnp.mean(batch["poison"])


def _fit_toy(run_dir, batches, **train):
    import jax
    import jax.numpy as jnp

    from dynint.train import sharding
    from dynint.train.config import TrainConfig
    from dynint.train.loop import fit

    return fit(
        train=TrainConfig(**{"max_epochs": 3, "learning_rate": 0.05, **train}),
        seed=0,
        key=jax.random.key(0),
        params={"w": jnp.zeros(3)},
        loss=_toy_loss,
        batches=batches,
        mesh=sharding.make_mesh(1),
        validate=lambda params: {"NDCG@10": -float(jnp.sum((params["w"] - 1.0) ** 2))},
        run_dir=run_dir,
        progress=False,
    )


def _latest_checkpoint(run_dir):
    """The toy run's latest (state, progress, step)."""
    import jax
    import jax.numpy as jnp

    from dynint.train.checkpoint import CheckpointSlot
    from dynint.train.config import TrainConfig
    from dynint.train.optim import make_optimizer
    from dynint.train.state import init_state

    slot = CheckpointSlot(run_dir / "checkpoints" / "latest")
    like = init_state({"w": jnp.zeros(3)}, make_optimizer(TrainConfig(learning_rate=0.05), 15), jax.random.key(0))
    restored = slot.restore(like)
    slot.close()
    return restored


def test_a_non_finite_loss_stops_the_run_naming_where_and_saves_the_state_before_it(tmp_path):
    from dynint.errors import TrainingDiverged

    with pytest.raises(TrainingDiverged) as raised:
        _fit_toy(tmp_path, _ToyBatches(poison={(2, 3)}))
    assert "epoch 2, step 9 (step 4 of the epoch): the loss is not finite" in str(raised.value)
    assert "train.learning_rate (now 0.05)" in str(raised.value) and "train.clip_norm" in str(raised.value)
    assert raised.value.record == {
        "epoch": 2,
        "step": 9,
        "quantity": "loss",
        "last_good_checkpoint": str((tmp_path / "checkpoints" / "latest" / "8").absolute()),
    }
    state, progress, step = _latest_checkpoint(tmp_path)
    assert step == 8 and int(state.step) == 8 and np.isfinite(np.asarray(state.params["w"])).all()
    assert progress["partial_epoch"]["epoch"] == 2 and progress["partial_epoch"]["batches"] == 3
    assert [e["epoch"] for e in _log(tmp_path)] == [1]


def test_resuming_a_diverged_run_with_skip_matches_a_run_that_skipped_from_the_start(tmp_path):
    from dynint.errors import TrainingDiverged

    poisoned = _ToyBatches(poison={(2, 3)})
    with pytest.raises(TrainingDiverged):
        _fit_toy(tmp_path / "resumed", poisoned)
    resumed = _fit_toy(tmp_path / "resumed", poisoned, on_nonfinite="skip", resume=True)
    skipping = _fit_toy(tmp_path / "skipping", poisoned, on_nonfinite="skip")
    np.testing.assert_array_equal(resumed.best_params["w"], skipping.best_params["w"])
    assert _without_times(_log(tmp_path / "resumed")) == _without_times(_log(tmp_path / "skipping"))
    assert [e["skipped_steps"] for e in _log(tmp_path / "skipping")] == [0, 1, 0]
    assert all(np.isfinite(e["train_loss"]) for e in _log(tmp_path / "skipping"))


def test_skip_stops_only_after_max_consecutive_nonfinite_steps_in_a_row(tmp_path):
    from dynint.errors import TrainingDiverged

    apart = _fit_toy(tmp_path / "apart", _ToyBatches(poison={(1, 1), (1, 3)}), on_nonfinite="skip")
    assert [e["skipped_steps"] for e in apart.progress.history] == [2, 0, 0]
    with pytest.raises(TrainingDiverged, match=r"step 3 of the epoch\): the loss is not finite in 2 steps in a row"):
        _fit_toy(
            tmp_path / "row", _ToyBatches(poison={(1, 1), (1, 2)}), on_nonfinite="skip", max_consecutive_nonfinite=2
        )


def _stepping(monkeypatch, at_call, action):
    """Make the loop's train step run `action()` just before its `at_call`-th call (from 1)."""
    import dynint.train.loop as loop

    original = loop.shared_train_step
    calls = []

    def make(*args, **kwargs):
        step = original(*args, **kwargs)

        def counted(*step_args):
            calls.append(1)
            if len(calls) == at_call:
                action()
            return step(*step_args)

        return counted

    monkeypatch.setattr(loop, "shared_train_step", make)


def test_sigint_mid_epoch_saves_the_position_and_the_resumed_run_matches_an_uninterrupted_one(tmp_path, monkeypatch):
    from dynint.errors import Interrupted

    uninterrupted = _fit_toy(tmp_path / "uninterrupted", _ToyBatches())
    before = signal.getsignal(signal.SIGINT)  # the default handler, or SIG_IGN under a background shell
    _stepping(monkeypatch, 8, lambda: signal.raise_signal(signal.SIGINT))  # the 3rd step of epoch 2
    with pytest.raises(
        Interrupted, match=r"SIGINT at epoch 2, step 8 \(3 of its steps\).*checkpoint of step 8"
    ) as raised:
        _fit_toy(tmp_path / "resumed", _ToyBatches())
    assert raised.value.exit_code == 130
    assert signal.getsignal(signal.SIGINT) is before  # the loop's handler is gone, the one before it back
    monkeypatch.undo()
    resumed = _fit_toy(tmp_path / "resumed", _ToyBatches(), resume=True)
    np.testing.assert_array_equal(resumed.best_params["w"], uninterrupted.best_params["w"])
    assert _without_times(_log(tmp_path / "resumed")) == _without_times(_log(tmp_path / "uninterrupted"))


def test_a_crash_loses_only_the_steps_since_the_last_interval_checkpoint(tmp_path, monkeypatch):
    uninterrupted = _fit_toy(tmp_path / "uninterrupted", _ToyBatches())

    def crash():
        raise RuntimeError("power cut")

    _stepping(monkeypatch, 9, crash)  # after 8 steps, 3 of them in epoch 2
    with pytest.raises(RuntimeError, match="power cut"):
        _fit_toy(tmp_path / "resumed", _ToyBatches(), checkpoint_every_steps=3)
    assert _latest_checkpoint(tmp_path / "resumed")[2] == 6  # steps 7 and 8 are lost, not the whole epoch
    monkeypatch.undo()
    resumed = _fit_toy(tmp_path / "resumed", _ToyBatches(), checkpoint_every_steps=3, resume=True)
    np.testing.assert_array_equal(resumed.best_params["w"], uninterrupted.best_params["w"])
    assert _without_times(_log(tmp_path / "resumed")) == _without_times(_log(tmp_path / "uninterrupted"))


_PAUSED_MID_EPOCH = textwrap.dedent(
    """
    import signal, sys, time
    import dynint.train.loop as loop
    from dynint.cli.main import main

    config_path, pause_before = sys.argv[1], int(sys.argv[2])
    shared_train_step = loop.shared_train_step

    def make(*args, **kwargs):
        step = shared_train_step(*args, **kwargs)
        calls = []

        def paused(*step_args):
            calls.append(1)
            if len(calls) == pause_before:
                # Say so, and wait until the test's SIGTERM has reached the loop's handler.
                handler, received = signal.getsignal(signal.SIGTERM), []

                def noted(signum, frame):
                    received.append(signum)
                    handler(signum, frame)

                signal.signal(signal.SIGTERM, noted)
                print("paused", flush=True)
                while not received:
                    time.sleep(0.01)
            return step(*step_args)

        return paused

    loop.shared_train_step = make
    sys.exit(main(["run", config_path, "--no-progress"]))
    """
)


@dataclass
class _PausedRun:
    process: subprocess.Popen
    config: Path
    run_dir: Path
    steps_per_epoch: int


@pytest.fixture(scope="module")
def paused_run(tmp_path_factory, reference_run):
    """`dynint run` of the tiny experiment in another process, paused before the 3rd step of epoch 2."""
    output = tmp_path_factory.mktemp("paused")
    config = output / "tiny.yaml"
    config.write_text(dump_config(tiny_config(output)))
    steps = _log(reference_run.run_dir)[0]["step"]
    process = subprocess.Popen(
        [sys.executable, "-c", _PAUSED_MID_EPOCH, str(config), str(steps + 3)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if process.stdout.readline().strip() != "paused":
        process.wait()
        pytest.fail(f"the run did not reach its pause: {process.stderr.read()}")
    yield _PausedRun(process, config, output / "tiny" / "synthetic" / "seed0", steps)
    if process.poll() is None:
        process.kill()
        process.wait()


def test_a_second_run_on_a_folder_in_use_is_refused_naming_the_folder_and_its_holder(paused_run, capsys):
    from dynint.cli.main import main

    before = sorted(str(p) for p in paused_run.run_dir.rglob("*"))
    assert main(["run", str(paused_run.config), "--no-progress"]) == 4
    error = capsys.readouterr().err
    assert f"run folder {paused_run.run_dir} is in use by process {paused_run.process.pid}" in error
    assert sorted(str(p) for p in paused_run.run_dir.rglob("*")) == before  # the second process wrote nothing


@pytest.fixture(scope="module")
def terminated_then_resumed(paused_run, tiny_data):
    """The paused run, sent SIGTERM, then resumed in this process."""
    paused_run.process.send_signal(signal.SIGTERM)
    _, stderr = paused_run.process.communicate(timeout=600)
    latest = sorted(int(p.name) for p in (paused_run.run_dir / "checkpoints" / "latest").iterdir())
    leftovers = sorted(p.name for p in paused_run.run_dir.iterdir())
    config = tiny_config(paused_run.config.parent, train={"resume": True})
    resumed = run_experiment(config, data=tiny_data, progress=False)
    return paused_run.process.returncode, stderr, latest, leftovers, resumed


def test_sigterm_mid_epoch_saves_that_step_and_the_resumed_run_ends_as_an_uninterrupted_one(
    paused_run, terminated_then_resumed, reference_run
):
    code, stderr, latest, leftovers, resumed = terminated_then_resumed
    step = paused_run.steps_per_epoch + 3
    assert code == 143, stderr
    assert f"dynint: interrupted: SIGTERM at epoch 2, step {step} (3 of its steps)" in stderr
    assert "Traceback" not in stderr
    assert latest == [paused_run.steps_per_epoch, step]  # epoch 1's save, and the one within epoch 2
    assert "result.json" not in leftovers and ".lock" not in leftovers
    assert resumed.metrics == reference_run.metrics
    assert _without_times(_log(resumed.run_dir)) == _without_times(_log(reference_run.run_dir))


def test_resume_falls_back_past_a_corrupt_newest_checkpoint_with_a_warning(
    terminated_then_resumed, reference_run, tiny_data
):
    from dynint.errors import DynintWarning

    resumed = terminated_then_resumed[-1]
    latest = resumed.run_dir / "checkpoints" / "latest"
    newest = latest / str(max(int(p.name) for p in latest.iterdir()))
    data = max((p for p in newest.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    config = tiny_config(resumed.run_dir.parents[2], train={"resume": True})
    with pytest.warns(DynintWarning, match=f"{newest} is damaged"):
        again = run_experiment(config, data=tiny_data, progress=False)
    assert again.metrics == reference_run.metrics
    assert _without_times(_log(again.run_dir)) == _without_times(_log(reference_run.run_dir))


def test_the_step_reports_the_global_norm_of_the_gradient_it_applied():
    import jax
    import jax.numpy as jnp
    import optax

    from dynint.train import sharding
    from dynint.train.state import init_guard, init_state
    from dynint.train.step import make_train_step

    def loss(params, batch, key):
        return jnp.sum((params["w"] * batch - 1.0) ** 2) + jnp.sum(params["b"] ** 2)

    params = {"w": jnp.array([1.0, 2.0]), "b": jnp.array([3.0])}
    batch = jnp.array([2.0, 0.5])
    optimizer = optax.sgd(0.1)
    mesh = sharding.make_mesh(1)
    state = init_state(params, optimizer, jax.random.key(0))
    shardings = sharding.state_shardings(mesh, state)
    step = make_train_step(loss, optimizer, mesh, shardings)
    # d/dw = 2 (w x - 1) x = [4, 0]; d/db = 2 b = [6]: the norm is sqrt(16 + 36).
    _, _, outputs = step(jax.device_put(state, shardings), init_guard(), batch)
    np.testing.assert_allclose(float(outputs.gradient_norm), np.sqrt(52.0), rtol=1e-6)
    np.testing.assert_allclose(float(outputs.loss), 1.0 + 0.0 + 9.0, rtol=1e-6)
