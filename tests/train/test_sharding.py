import json
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec

from dynint.errors import ConfigError
from dynint.train import sharding
from tests.simulated_devices import simulated_devices_environment

_ONE_VERSUS_EIGHT_DEVICES = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import jax
    from dynint.data.prepared import prepare_data
    from dynint.runner import run_directory
    from dynint.train.experiment import train_and_evaluate
    from tests.train.conftest import tiny_config

    assert jax.device_count() == 8, jax.devices()
    results = {}
    for devices in (1, 8):
        config = tiny_config(Path(sys.argv[1]) / str(devices), train={"num_devices": devices, "max_epochs": 1})
        run_dir = run_directory(config)
        run_dir.mkdir(parents=True)
        trained = train_and_evaluate(config, prepare_data(config), run_dir, progress=False)
        log = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        results[devices] = {"losses": [e["train_loss"] for e in log if "train_loss" in e], "metrics": trained.metrics}
    print(json.dumps(results))
    """
)


def _on_eight_devices(script: str, *args: str) -> subprocess.CompletedProcess:
    """Runs `script` in a process with 8 fake CPU devices."""
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        env=simulated_devices_environment(8),
        capture_output=True,
        text=True,
    )


def test_eight_devices_give_the_losses_and_metrics_of_one(tmp_path):
    done = _on_eight_devices(_ONE_VERSUS_EIGHT_DEVICES, str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    one, eight = results["1"], results["8"]
    np.testing.assert_allclose(eight["losses"], one["losses"], atol=1e-5, rtol=0)
    for stage in ("valid", "test"):
        assert eight["metrics"][stage] == pytest.approx(one["metrics"][stage], abs=1e-6)


def test_batches_are_split_over_the_data_axis_item_tables_over_the_model_axis_the_rest_replicated():
    mesh = sharding.make_mesh(1)
    assert mesh.axis_names == (sharding.DATA_AXIS, sharding.MODEL_AXIS)
    assert sharding.batch_sharding(mesh).spec == PartitionSpec(sharding.DATA_AXIS)
    params = {
        "embed": {"items": {"embedding": np.zeros((5, 2)), "frozen_text": np.zeros((5, 3))}},
        "blocks": {0: {"kernel": np.zeros((2, 2))}},
    }
    specs = jax.tree.map(lambda s: s.spec, sharding.parameter_shardings(mesh, params))
    rows = PartitionSpec(sharding.MODEL_AXIS, None)
    assert specs == {
        "embed": {"items": {"embedding": rows, "frozen_text": rows}},
        "blocks": {0: {"kernel": PartitionSpec()}},
    }


_MODEL_PARALLEL = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import jax
    import numpy as np
    from flax import nnx
    from dynint.components import get_model_entry
    from dynint.runner import run_experiment
    from dynint.train import sharding
    from dynint.train.state import split_model
    from tests.train.conftest import tiny_config

    assert jax.device_count() == 8, jax.devices()
    out = Path(sys.argv[1])
    results = {}
    for devices, model_parallelism in ((1, 1), (8, 1), (8, 4)):
        mesh_settings = {"num_devices": devices, "model_parallelism": model_parallelism, "max_epochs": 1}
        folder = out / f"{devices}x{model_parallelism}"
        configs = {
            "sasrec": tiny_config(folder, train=mesh_settings),
            "sasrec-sampled": tiny_config(
                folder / "sampled", model={"loss": "sampled-softmax", "num_negatives": 8}, train=mesh_settings
            ),
            "bert4rec": tiny_config(
                folder / "bert4rec",
                model={"name": "bert4rec", "hidden_size": 16, "num_layers": 1, "num_heads": 1, "inner_size": 32},
                train=mesh_settings,
            ),
            "din": tiny_config(
                folder / "din",
                model={"name": "din", "embedding_size": 8, "mlp_sizes": [32, 16], "attention_sizes": [16]},
                train={**mesh_settings, "early_stopping_metric": "AUC"},
            ),
        }
        for name, config in configs.items():
            run = run_experiment(config, progress=False)
            log = [json.loads(line) for line in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
            losses = [e["train_loss"] for e in log if "train_loss" in e]
            results[f"{name} {devices}x{model_parallelism}"] = {"losses": losses, "metrics": run.metrics}
    # Bytes of the item table each device holds, 1 device against 8 with model parallelism 8.
    for model_parallelism in (1, 8):
        config = tiny_config(out, train={"num_devices": model_parallelism, "model_parallelism": model_parallelism})
        model = get_model_entry("sasrec").build(
            sharding.model_for_mesh(config.model, model_parallelism), 1000, 12, rngs=nnx.Rngs(params=0)
        )
        _, params = split_model(model)
        mesh = sharding.make_mesh(model_parallelism, model_parallelism)
        placed = jax.device_put(params, sharding.parameter_shardings(mesh, params))
        table = placed["embed"]["items"]["embedding"]
        results[f"table bytes {model_parallelism}"] = max(shard.data.nbytes for shard in table.addressable_shards)
        results[f"table rows {model_parallelism}"] = int(table.shape[0])
    print(json.dumps(results))
    """
)


def test_model_parallel_item_tables_give_the_losses_and_metrics_of_one_device(tmp_path):
    done = _on_eight_devices(_MODEL_PARALLEL, str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("sasrec", "sasrec-sampled", "bert4rec", "din"):
        one = results[f"{name} 1x1"]
        for mesh in ("8x1", "8x4"):  # data 8 x model 1, data 2 x model 4
            other = results[f"{name} {mesh}"]
            np.testing.assert_allclose(other["losses"], one["losses"], atol=1e-5, rtol=0, err_msg=f"{name} {mesh}")
            for stage in ("valid", "test"):
                assert other["metrics"][stage] == pytest.approx(one["metrics"][stage], abs=1e-5), (name, mesh)
    assert results["table rows 1"] == 1001 and results["table rows 8"] == 1008  # padded to split evenly
    assert results["table bytes 8"] * 8 == results["table rows 8"] * 16 * 4
    assert results["table bytes 8"] <= results["table bytes 1"] / 8 + 16 * 4


def test_optimizer_moments_follow_the_sharding_of_their_parameters(monkeypatch):
    mesh = sharding.make_mesh(1)
    row_sharded = PartitionSpec(sharding.MODEL_AXIS, None)
    monkeypatch.setattr(sharding, "PARAMETER_RULES", ((r"items/embedding", row_sharded), (r".*", PartitionSpec())))
    from dynint.train.state import TrainState

    params = {"items": {"embedding": np.zeros((4, 2))}, "bias": np.zeros(2)}
    state = TrainState(params=params, opt_state=({"mu": params, "count": np.zeros(())},), step=np.zeros(()), key=None)
    specs = sharding.state_shardings(mesh, state)
    assert specs.params["items"]["embedding"].spec == row_sharded
    assert specs.opt_state[0]["mu"]["items"]["embedding"].spec == row_sharded
    assert specs.opt_state[0]["mu"]["bias"].spec == PartitionSpec()
    assert specs.opt_state[0]["count"].spec == PartitionSpec()


def test_asking_for_more_devices_than_exist_fails_clearly():
    with pytest.raises(ConfigError, match="num_devices"):
        sharding.make_mesh(jax.device_count() + 1)


_RESHARDED_RESUME = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from dynint.data.prepared import prepare_data
    from dynint.runner import run_directory
    from dynint.train.experiment import train_and_evaluate
    from tests.train.conftest import tiny_config

    out = Path(sys.argv[1])

    def stop_after_first_epoch(epoch):
        raise KeyboardInterrupt

    def run(folder, devices, model_parallelism, resume=False, interrupt=None):
        mesh = {"num_devices": devices, "model_parallelism": model_parallelism, "max_epochs": 2, "resume": resume}
        config = tiny_config(out / folder, train=mesh)
        run_dir = run_directory(config)
        run_dir.mkdir(parents=True, exist_ok=True)
        trained = train_and_evaluate(config, prepare_data(config), run_dir, progress=False, on_epoch_end=interrupt)
        return {"log": _log(run_dir), "metrics": trained.metrics}

    def _log(run_dir):
        return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]

    results = {"reference": run("reference", 1, 1)}
    for name, (devices, model_parallelism) in {"1x1": (1, 1), "8x4": (8, 4)}.items():
        try:
            run(name, 8, 1, interrupt=stop_after_first_epoch)  # saved on data 8 x model 1
        except KeyboardInterrupt:
            pass
        first_epoch = _log(out / name / "tiny" / "synthetic" / "seed0")
        results[name] = {**run(name, devices, model_parallelism, resume=True), "first_epoch": first_epoch}
    print(json.dumps(results))
    """
)


def test_a_checkpoint_saved_on_eight_devices_resumes_on_one_and_on_another_mesh(tmp_path):
    done = _on_eight_devices(_RESHARDED_RESUME, str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])

    def losses(log):
        return [entry["train_loss"] for entry in log if "train_loss" in entry]

    reference = results["reference"]
    assert len(losses(reference["log"])) == 2
    for mesh in ("1x1", "8x4"):
        resumed = results[mesh]
        assert len(losses(resumed["first_epoch"])) == 1
        assert resumed["log"][: len(resumed["first_epoch"])] == resumed["first_epoch"]  # epoch 1 restored, not rerun
        np.testing.assert_allclose(losses(resumed["log"]), losses(reference["log"]), atol=1e-5, rtol=0, err_msg=mesh)
        for stage in ("valid", "test"):
            assert results[mesh]["metrics"][stage] == pytest.approx(reference["metrics"][stage], abs=1e-5), mesh


def test_programs_run_one_at_a_time_only_on_several_cpu_devices():
    from types import SimpleNamespace

    cpu, gpu = SimpleNamespace(platform="cpu"), SimpleNamespace(platform="gpu")
    assert sharding.one_program_at_a_time([cpu, cpu])
    assert not sharding.one_program_at_a_time([cpu])
    assert not sharding.one_program_at_a_time([gpu, gpu])
    assert not sharding.one_program_at_a_time(jax.devices()[:1])
