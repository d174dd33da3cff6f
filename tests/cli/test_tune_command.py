import json
from dataclasses import replace

import yaml

from dynint.cli import tune_command
from dynint.cli.main import main
from dynint.config import load_config
from dynint.data.prepared import prepare_data


class Forbidden:
    def __getattr__(self, name):
        raise AssertionError(f"dynint tune read test-stage data ({name!r})")


def prepare_without_test_stage(config, data_dir=None):
    data = prepare_data(config, data_dir)
    test_parts = ("test", "test_visible", "test_visible_timestamps", "all_events", "all_timestamps")
    return replace(data, split=replace(data.split, **{name: Forbidden() for name in test_parts}))


def test_tune_records_every_trial_and_writes_a_runnable_best_config(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tune_command, "prepare_data", prepare_without_test_stage)
    config = tmp_path / "itemknn.yaml"
    synthetic = {"num_users": 200, "num_items": 80, "num_clusters": 4}
    config.write_text(yaml.safe_dump({"name": "itemknn", "data": {"name": "synthetic", "synthetic": synthetic}}))
    space = tmp_path / "space.yaml"
    space.write_text("model.shrink: {low: 0, high: 50}\nmodel.neighbors: [5, 50]\n")
    output, trials = tmp_path / "best.yaml", tmp_path / "trials.jsonl"
    arguments = [str(config), "model.name=itemknn", "--space", str(space), "--strategy", "random", "--trials", "4"]
    assert main(["tune", *arguments, "--output", str(output), "--trials-file", str(trials), "--no-progress"]) == 0

    printed = json.loads(capsys.readouterr().out)
    records = [json.loads(line) for line in trials.read_text().splitlines()]
    assert records[0]["setup"]["points"] == 4 and [r["trial"] for r in records[1:]] == [0, 1, 2, 3]
    assert printed["valid"] == max((r["valid"] for r in records[1:]), key=lambda m: m["NDCG@10"])
    best = load_config(output)
    assert best.model.neighbors == printed["best_params"]["model.neighbors"] and best.data.name == "synthetic"
    assert f"dynint tune {config} model.name=itemknn --space {space} --strategy random --trials 4 --seed 0" in (
        output.read_text()
    )


def test_tune_exits_2_on_a_grid_larger_than_the_trial_budget(tmp_path, capsys, repo_root):
    space = tmp_path / "space.yaml"
    space.write_text("model.shrink: [0, 1, 2]\n")
    config = repo_root / "experiments" / "seq-full-ranking" / "itemknn.yaml"
    assert main(["tune", str(config), "--space", str(space), "--trials", "2"]) == 2
    assert "the grid has 3 points" in capsys.readouterr().err


def test_a_second_tune_writing_the_same_trials_file_exits_4_and_a_bad_search_writes_nothing(tmp_path, capsys):
    import os

    from dynint.run_lock import RunLock

    config = tmp_path / "itemknn.yaml"
    config.write_text(yaml.safe_dump({"name": "itemknn", "data": {"name": "synthetic"}, "model": {"name": "itemknn"}}))
    space = tmp_path / "space.yaml"
    space.write_text("model.neighbors: [5, 50]\n")
    trials = tmp_path / "trials.jsonl"
    arguments = ["tune", str(config), "--space", str(space), "--trials-file", str(trials), "--no-progress"]
    with RunLock(tmp_path / ".trials.jsonl.lock", "tuning record"):
        assert main([*arguments, "--output", str(tmp_path / "best.yaml")]) == 4
    assert f"tuning record {trials} is in use by process {os.getpid()}" in capsys.readouterr().err
    assert main([*arguments, "--metric", "NDCG@3"]) == 2  # refused before anything is written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["itemknn.yaml", "space.yaml"]
