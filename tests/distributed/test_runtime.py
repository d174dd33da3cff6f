"""Two processes on 127.0.0.1, each with 4 fake CPU devices, train as one 8-device run."""

import json
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dynint.runner import run_experiment
from tests.simulated_devices import simulated_devices_environment
from tests.train.conftest import tiny_config

_ONE_OF_TWO_PROCESSES = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from dynint.runner import run_experiment
    from tests.train.conftest import tiny_config

    process, port, out = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    distributed = {"coordinator_address": f"127.0.0.1:{port}", "num_processes": 2, "process_id": process}
    config = tiny_config(out, train={"num_devices": 8, "model_parallelism": 2}, distributed=distributed)
    run = run_experiment(config, progress=False)
    print(json.dumps({"process": process, "metrics": run.metrics}))
    """
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _losses(run_dir):
    log = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [entry["train_loss"] for entry in log if "train_loss" in entry]


def test_two_processes_train_the_model_one_process_trains(tmp_path):
    environment = simulated_devices_environment(4)
    port = str(_free_port())
    multi = tmp_path / "two-processes"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _ONE_OF_TWO_PROCESSES, str(rank), port, str(multi)],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [process.communicate(timeout=900) for process in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-3000:]
    reports = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]

    single = run_experiment(tiny_config(tmp_path / "one-process"), progress=False)
    run_dir = multi / "tiny" / "synthetic" / "seed0"
    np.testing.assert_allclose(_losses(run_dir), _losses(single.run_dir), atol=1e-5, rtol=0)
    for report in reports:  # both processes evaluated the whole model
        for stage in ("valid", "test"):
            assert report["metrics"][stage] == pytest.approx(single.metrics[stage], abs=1e-6)
    # Process 0 wrote the run's files, once; the checkpoints hold every process's shards.
    assert json.loads((run_dir / "result.json").read_text())["metrics"] == reports[0]["metrics"]
    assert len(_losses(run_dir)) == len(_losses(single.run_dir))
    assert (run_dir / "checkpoints" / "best").is_dir()
