import json
import os
import subprocess
import sys

import pytest

from dynint.cli.main import main

EXPECTED_COUNTS = {
    "ml-100k": (943, 1682, 100000),
    "amazon-beauty": (22363, 12101, 198502),
    "amazon-sports": (35598, 18357, 296337),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_COUNTS))
def test_datasets_info_json_reports_the_real_counts(name, shared_data, capsys):
    assert main(["datasets", "info", name, "--data-dir", str(shared_data), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["users"], info["items"], info["interactions"]) == EXPECTED_COUNTS[name]


def test_datasets_list_shows_each_registered_set_and_its_availability(shared_data, capsys):
    assert main(["datasets", "list", "--data-dir", str(shared_data)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "available" in lines["amazon-beauty"] and "available" in lines["ml-100k"]
    assert "downloadable" in lines["ml-1m"] or "available" in lines["ml-1m"]


def test_run_applies_overrides_and_prints_test_metrics(tmp_path, capsys, repo_root):
    config = repo_root / "experiments" / "quickstart" / "poprec.yaml"
    overrides = [f"output_dir={tmp_path}", "data.synthetic.num_users=300", "seed=4"]
    assert main(["run", str(config), *overrides, "--no-progress"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["run_dir"].endswith("seed4") and "NDCG@10" in printed["test"]


def test_unknown_config_key_exits_2_naming_the_nearest_key(capsys, repo_root):
    config = repo_root / "experiments" / "quickstart" / "poprec.yaml"
    assert main(["run", str(config), "data.nmae=ml-100k"]) == 2
    assert "did you mean 'data.name'" in capsys.readouterr().err


def test_unknown_table_exits_2_naming_the_nearest_table(capsys):
    assert main(["reproduce", "quickstrat"]) == 2
    assert "did you mean 'quickstart'" in capsys.readouterr().err


def test_module_entry_point_prints_the_version():
    out = subprocess.run([sys.executable, "-m", "dynint", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("dynint ")


def test_a_run_on_a_missing_data_set_exits_2_and_leaves_no_run_folder(tmp_path, capsys, repo_root):
    config = repo_root / "experiments" / "seq-full-ranking" / "sasrec-ce.yaml"
    assert main(["run", str(config), "data.name=nosuch", f"output_dir={tmp_path}", "--no-progress"]) == 2
    assert "unknown data set 'nosuch'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_output_directory_exits_5_naming_the_path(tmp_path, capsys, repo_root):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    config = repo_root / "experiments" / "quickstart" / "poprec.yaml"
    overrides = [f"output_dir={blocker}/runs", "data.synthetic.num_users=300"]
    assert main(["run", str(config), *overrides, "--no-progress"]) == 5
    error = capsys.readouterr().err
    assert f"dynint: error: cannot write {blocker}/runs/poprec/synthetic/seed0: {blocker} is a file" in error


def _tiny_config_file(output_dir):
    from dynint.config.loader import dump_config
    from tests.train.conftest import tiny_config

    path = output_dir / "tiny.yaml"
    path.write_text(dump_config(tiny_config(output_dir)))
    return path


def test_a_diverging_run_exits_3_with_the_message_and_records_the_failure(tmp_path, capsys):
    config = _tiny_config_file(tmp_path)
    assert main(["run", str(config), "train.learning_rate=1000000.0", "--no-progress"]) == 3
    error = capsys.readouterr().err
    assert error.startswith("dynint: error: training diverged at epoch 1, step ") and "Traceback" not in error
    assert "train.learning_rate (now 1e+06)" in error
    result = json.loads((tmp_path / "tiny" / "synthetic" / "seed0" / "result.json").read_text())
    assert result["status"] == "failed" and result["failure"]["kind"] == "diverged"
    assert result["failure"]["epoch"] == 1 and result["failure"]["message"] in error


_WRITES_LIMITED = """
import resource, signal, sys
from dynint.cli.main import main

# Files may not grow past 16 KiB: the run's config and logs fit, its checkpoints do not.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))
sys.exit(main(["run", sys.argv[1], "--no-progress"]))
"""


def test_a_checkpoint_write_that_fails_exits_5_naming_the_checkpoint_and_keeps_no_partial_save(tmp_path):
    from dynint.train.checkpoint import CheckpointSlot
    from dynint.train.compilation import CACHE_ENV

    config = _tiny_config_file(tmp_path)
    # Compiled programs are larger than the limit: the shared compilation cache must not receive truncated entries.
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), CACHE_ENV: "0"}
    environment.pop("JAX_COMPILATION_CACHE_DIR", None)
    failed = subprocess.run(
        [sys.executable, "-c", _WRITES_LIMITED, str(config)], env=environment, capture_output=True, text=True
    )
    assert failed.returncode == 5, failed.stderr
    checkpoints = tmp_path / "tiny" / "synthetic" / "seed0" / "checkpoints"
    # Tensorstore's threads write to the same stderr and may leave a line unfinished before dynint's message.
    errors = [line[line.index("dynint: error: ") :] for line in failed.stderr.splitlines() if "dynint: error: " in line]
    assert len(errors) == 1, failed.stderr
    [error] = errors
    assert error.startswith(f"dynint: error: cannot write {checkpoints}/best/") and error.endswith("(File too large)")
    # Tensorstore may print tracebacks of its own threads as a write fails; none passes through dynint.
    frames = [line for line in failed.stderr.splitlines() if line.strip().startswith("File ")]
    assert not any(f"{os.sep}dynint{os.sep}" in frame for frame in frames)
    for slot_name in ("best", "latest"):
        slot = CheckpointSlot(checkpoints / slot_name)
        assert slot.latest_step() is None  # the failed save is not taken for a checkpoint
        slot.close()
    assert not any("tmp" in p.name for p in checkpoints.rglob("*"))  # nor are its pieces left behind


def test_reproducing_a_table_another_process_is_reproducing_exits_4(tmp_path, capsys):
    from dynint.run_lock import RunLock

    runs = tmp_path / "runs"
    with RunLock(runs / "quickstart" / ".reproduce.lock", "table quickstart"):
        code = main(["reproduce", "quickstart", "--runs-dir", str(runs), "--results-dir", str(tmp_path)])
    assert code == 4
    assert f"table quickstart (runs in {runs}) is in use by process {os.getpid()}" in capsys.readouterr().err


def test_datasets_info_fails_on_malformed_lines_unless_told_to_skip_them(tmp_path, capsys):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    lines += [f"{user}\t{item}\t4\t{100 * user + item}" for user in range(1, 4) for item in range(1, 6)]
    lines[4] = "2\t9"  # a column short
    (folder / "ml-100k.inter").write_text("\n".join(lines) + "\n")
    arguments = ["datasets", "info", "ml-100k", "--data-dir", str(tmp_path), "--json"]
    assert main(arguments) == 2
    assert "ml-100k.inter, line 5: expected 4 columns" in capsys.readouterr().err
    assert main([*arguments, "--skip-malformed-lines"]) == 0
    captured = capsys.readouterr()
    assert "dynint: warning: " in captured.err and "skipped 1 malformed line (the first, line 5" in captured.err
    assert json.loads(captured.out)["interactions"] == 14
