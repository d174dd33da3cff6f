"""A run leaves TensorBoard event files holding its logged curves and a curves.png; `dynint runs
compare` tabulates and plots several runs."""

import json
import struct

from tensorboardX.proto import event_pb2

from dynint.cli.main import main
from dynint.runner import run_experiment
from tests.train.conftest import tiny_config


def _scalars(folder):
    """tag -> {step: value} from the TFRecord event files in `folder`."""
    found = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            record = data[offset + 12 : offset + 12 + length]
            offset += 12 + length + 4
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                found.setdefault(value.tag, {})[event.step] = value.simple_value
    return found


def test_a_run_writes_its_curves_to_tensorboard_and_to_a_figure(tmp_path, capsys):
    runs = [
        run_experiment(tiny_config(tmp_path, seed=seed, train={"max_epochs": 3}), progress=False) for seed in (0, 1)
    ]
    run_dir = runs[0].run_dir
    log = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    epochs = [entry for entry in log if "train_loss" in entry]
    scalars = _scalars(run_dir / "tensorboard")
    assert sorted(scalars["train/loss"]) == [1, 2, 3]
    for entry in epochs:
        assert abs(scalars["train/loss"][entry["epoch"]] - entry["train_loss"]) < 1e-5
        assert abs(scalars["valid/NDCG_10"][entry["epoch"]] - entry["valid"]["NDCG@10"]) < 1e-6
        assert entry["gradient_norm"] > 0
        assert abs(scalars["train/gradient_norm"][entry["epoch"]] - entry["gradient_norm"]) < 1e-5
    assert set(scalars) >= {"train/examples_per_s", "train/learning_rate", "valid/HR_5"}
    assert (run_dir / "curves.png").stat().st_size > 0

    out = tmp_path / "compare.png"
    assert main(["runs", "compare", str(runs[0].run_dir), str(runs[1].run_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split()[:2] == ["run", "epochs"] and len(printed) == 4  # header, two runs, "wrote"
    assert "seed0" in printed[1] and "seed1" in printed[2] and out.stat().st_size > 0
