import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec

from dynint.errors import ConfigError
from dynint.train import sharding

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


def test_eight_devices_give_the_losses_and_metrics_of_one(tmp_path):
    flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    done = subprocess.run(
        [sys.executable, "-c", _ONE_VERSUS_EIGHT_DEVICES, str(tmp_path)],
        env={**os.environ, "XLA_FLAGS": flags, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    one, eight = results["1"], results["8"]
    np.testing.assert_allclose(eight["losses"], one["losses"], atol=1e-5, rtol=0)
    for stage in ("valid", "test"):
        assert eight["metrics"][stage] == pytest.approx(one["metrics"][stage], abs=1e-6)


def test_batches_are_split_over_the_data_axis_and_parameters_replicated():
    mesh = sharding.make_mesh(1)
    assert mesh.axis_names == (sharding.DATA_AXIS, sharding.MODEL_AXIS)
    assert sharding.batch_sharding(mesh).spec == PartitionSpec(sharding.DATA_AXIS)
    params = {"items": {"embedding": np.zeros((5, 2))}, "blocks": {0: {"kernel": np.zeros((2, 2))}}}
    specs = jax.tree.map(lambda s: s.spec, sharding.parameter_shardings(mesh, params))
    assert specs == {"items": {"embedding": PartitionSpec()}, "blocks": {0: {"kernel": PartitionSpec()}}}


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
