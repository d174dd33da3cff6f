import csv
import importlib.util
import json

from dynint.provenance import REPO_ROOT
from dynint.reproduce.runner import reproduce_table


def test_quickstart_table_is_written_in_the_shared_results_shape(tmp_path):
    table = reproduce_table(
        "quickstart", seeds=2, results_dir=tmp_path / "results", runs_dir=tmp_path / "runs", progress=False
    )
    saved = json.loads((tmp_path / "results" / "quickstart.json").read_text())
    assert saved == json.loads(json.dumps(table))
    assert {"table", "protocol", "provenance", "rows"} <= saved.keys()
    assert {"commit", "versions", "machine", "date"} <= saved["provenance"].keys()
    row = saved["rows"][0]
    assert row["model"] == "poprec" and row["dataset"] == "synthetic" and row["seeds"] == [0, 1]
    ndcg = row["metrics"]["NDCG@10"]
    assert len(ndcg["values"]) == 2 and 0.0 < ndcg["mean"] < 1.0
    assert row["config"] == "experiments/quickstart/poprec.yaml"
    with open(tmp_path / "results" / "quickstart.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert float(rows[0]["NDCG@10_mean"]) == round(ndcg["mean"], 6)
    markdown = (tmp_path / "results" / "quickstart.md").read_text()
    assert "## synthetic" in markdown and "poprec" in markdown


def test_paper_tables_are_built_from_results_json(tmp_path):
    reproduce_table("quickstart", seeds=1, results_dir=tmp_path / "results", runs_dir=tmp_path / "runs", progress=False)
    spec = importlib.util.spec_from_file_location("paper_build", REPO_ROOT / "paper" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    [tex] = module.build(tmp_path / "results", tmp_path / "tables")
    assert "synthetic & poprec &" in tex.read_text()
