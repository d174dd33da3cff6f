import json
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
