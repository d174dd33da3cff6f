import csv
import json
import subprocess
import sys

import pytest

from dynint.provenance import REPO_ROOT
from dynint.reproduce.runner import reproduce_table
from dynint.reproduce.tables import TABLES, RowSpec, TableSpec


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


def test_a_reproduced_table_reaches_the_paper_through_its_json(tmp_path):
    table = reproduce_table(
        "quickstart", seeds=1, results_dir=tmp_path / "results", runs_dir=tmp_path / "runs", progress=False
    )
    assert (tmp_path / "results" / "quickstart.png").exists()  # the table's figure, drawn by reproduce
    built = subprocess.run(
        [sys.executable, str(REPO_ROOT / "paper" / "build.py"), "--no-pdf", "--results-dir", str(tmp_path / "results")]
        + ["--paper-dir", str(tmp_path / "paper")],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    [poprec] = [row for row in table["rows"] if row["model"] == "poprec"]
    ndcg = f"{poprec['metrics']['NDCG@10']['mean']:.4f}"
    assert (
        f"poprec & 1 & {poprec['metrics']['HR@10']['mean']:.4f} & {ndcg} &"
        in (tmp_path / "paper" / "generated" / "tables" / "quickstart.tex").read_text()
    )
    numbers = (tmp_path / "paper" / "generated" / "numbers.tex").read_text()
    assert f"\\dynintnumber{{quickstart/synthetic/poprec/NDCG@10}}{{{ndcg}}}" in numbers


def _small_table(monkeypatch, **row_options) -> str:
    """A two-row quickstart variant registered for one test: PopRec and a 2-epoch SASRec."""
    spec = TableSpec(
        name="reuse-test",
        description="quickstart rows, shortened",
        datasets=("synthetic",),
        rows=(
            RowSpec("poprec", "quickstart/poprec.yaml", **row_options),
            RowSpec("sasrec-ce", "quickstart/sasrec.yaml", overrides=("train.max_epochs=2",)),
        ),
        protocol={"kind": "full"},
        metrics=("NDCG@10", "HR@10"),
    )
    monkeypatch.setitem(TABLES, spec.name, spec)
    return spec.name


def test_finished_runs_are_reused_and_rows_record_each_runs_provenance(tmp_path, monkeypatch):
    name = _small_table(monkeypatch)
    options = dict(seeds=2, results_dir=tmp_path / "results", runs_dir=tmp_path / "runs", progress=False)
    first = reproduce_table(name, rows=("poprec",), **options)
    result_path = tmp_path / "runs" / name / "poprec" / "synthetic" / "seed1" / "result.json"
    saved = json.loads(result_path.read_text())
    saved["metrics"]["test"]["NDCG@10"] = 0.5  # a marker: a reused run reports what its folder holds
    result_path.write_text(json.dumps(saved))
    second = reproduce_table(name, rows=("poprec",), **options)
    assert second["rows"][0]["metrics"]["NDCG@10"]["values"] == [
        first["rows"][0]["metrics"]["NDCG@10"]["values"][0],
        0.5,
    ]
    assert [run["seed"] for run in second["rows"][0]["runs"]] == [0, 1]
    assert {"commit", "machine", "date", "wall_time_s"} <= second["rows"][0]["runs"][0].keys()
    assert second["command"].endswith("--rows poprec")
    fresh = reproduce_table(name, rows=("poprec",), reuse=False, **options)
    assert fresh["rows"][0]["metrics"] == first["rows"][0]["metrics"]


def test_a_changed_config_is_run_again_and_max_seeds_caps_a_row(tmp_path, monkeypatch):
    options = dict(seeds=2, results_dir=tmp_path / "results", runs_dir=tmp_path / "runs", progress=False)
    name = _small_table(monkeypatch)
    reproduce_table(name, rows=("poprec",), **options)
    result_path = tmp_path / "runs" / name / "poprec" / "synthetic" / "seed0" / "result.json"
    before = result_path.stat().st_mtime_ns
    name = _small_table(
        monkeypatch, overrides={"synthetic": ("eval.ks=[10]",)}, max_seeds={"synthetic": 1, "ml-100k": 3}
    )
    table = reproduce_table(name, rows=("poprec",), **{**options, "results_dir": tmp_path / "other"})
    assert table["rows"][0]["seeds"] == [0]
    assert result_path.stat().st_mtime_ns != before
    assert json.loads(result_path.read_text())["config"]["eval"]["ks"] == [10]


def test_an_interrupted_neural_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    name = _small_table(monkeypatch)
    options = dict(seeds=1, rows=("sasrec-ce",), progress=False)
    reference = reproduce_table(name, results_dir=tmp_path / "a", runs_dir=tmp_path / "runs-a", **options)

    import dynint.train.experiment as experiment

    original = experiment.fit

    def stop_after_first_epoch(**kwargs):
        def interrupt(epoch):
            raise KeyboardInterrupt

        return original(**{**kwargs, "on_epoch_end": interrupt})

    monkeypatch.setattr(experiment, "fit", stop_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        reproduce_table(name, results_dir=tmp_path / "b", runs_dir=tmp_path / "runs-b", **options)
    monkeypatch.setattr(experiment, "fit", original)
    run_dir = tmp_path / "runs-b" / name / "sasrec-ce" / "synthetic" / "seed0"
    assert not (run_dir / "result.json").exists() and (run_dir / "checkpoints" / "latest").is_dir()
    resumed = reproduce_table(name, results_dir=tmp_path / "b", runs_dir=tmp_path / "runs-b", **options)
    assert resumed["rows"][0]["metrics"] == reference["rows"][0]["metrics"]
    assert resumed["rows"][0]["runs"][0]["epochs"] == 2
    # The record names the session that trained the first epoch as well as the one that finished.
    (earlier,) = resumed["rows"][0]["runs"][0]["resumed_from"]
    assert earlier["commit"] == resumed["rows"][0]["runs"][0]["commit"] and earlier["date"]
    assert "resumed_from" not in reference["rows"][0]["runs"][0]


def test_a_table_built_row_by_row_keeps_earlier_rows_only_while_their_config_is_unchanged(tmp_path, monkeypatch):
    options = dict(seeds=1, results_dir=tmp_path / "results", progress=False)
    name = _small_table(monkeypatch)
    both = reproduce_table(name, runs_dir=tmp_path / "runs", **options)
    assert [row["model"] for row in both["rows"]] == ["poprec", "sasrec-ce"]
    # The run folders are gone (a fresh checkout): the sasrec-ce row is carried over from the
    # table's JSON, and the table lists both rows in the spec's order with the full command.
    again = reproduce_table(name, rows=("poprec",), runs_dir=tmp_path / "fresh-runs", **options)
    assert [row["model"] for row in again["rows"]] == ["poprec", "sasrec-ce"]
    assert again["rows"][1] == both["rows"][1]
    assert "--rows" not in again["command"]
    assert not (tmp_path / "fresh-runs" / name / "sasrec-ce").exists()
    # A changed sasrec-ce config makes its saved row stale: it is dropped, never shown as current.
    spec = TABLES[name]
    changed = RowSpec("sasrec-ce", "quickstart/sasrec.yaml", overrides=("train.max_epochs=3",))
    monkeypatch.setitem(TABLES, name, TableSpec(**{**spec.__dict__, "rows": (spec.rows[0], changed)}))
    stale = reproduce_table(name, rows=("poprec",), runs_dir=tmp_path / "fresh-runs", **options)
    assert [row["model"] for row in stale["rows"]] == ["poprec"]
    assert stale["command"].endswith("--rows poprec")


def test_a_diverging_row_is_reported_failed_and_the_other_rows_are_still_run(tmp_path, monkeypatch):
    from dynint.reproduce.render import render_markdown

    spec = TableSpec(
        name="divergence-test",
        description="a row that diverges beside one that does not",
        datasets=("synthetic",),
        rows=(
            RowSpec("sasrec-ce", "quickstart/sasrec.yaml", overrides=("train.learning_rate=1000000.0",)),
            RowSpec("poprec", "quickstart/poprec.yaml"),
        ),
        protocol={"kind": "full"},
        metrics=("NDCG@10",),
    )
    monkeypatch.setitem(TABLES, spec.name, spec)
    options = dict(seeds=1, results_dir=tmp_path / "results", runs_dir=tmp_path / "runs", progress=False)
    table = reproduce_table(spec.name, **options)
    assert [row["model"] for row in table["rows"]] == ["poprec"]
    [failed] = table["failed_rows"]
    assert (failed["model"], failed["dataset"], failed["seeds"]) == ("sasrec-ce", "synthetic", [0])
    assert failed["failures"][0]["message"].startswith("training diverged at epoch 1")
    run_dir = tmp_path / "runs" / spec.name / "sasrec-ce" / "synthetic" / "seed0"
    assert json.loads((run_dir / "result.json").read_text())["status"] == "failed"
    assert (
        "## Failed runs" in render_markdown(table)
        and "sasrec-ce on synthetic, seed 0: training diverged"
        in (tmp_path / "results" / f"{spec.name}.md").read_text()
    )
