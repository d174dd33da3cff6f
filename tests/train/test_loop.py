import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

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
    with pytest.raises(ConfigError, match="other settings.*train"):
        run_experiment(changed, data=tiny_data, progress=False)


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
