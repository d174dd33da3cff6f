"""The paper's consistency: its generated sources are those results/ gives, every number the
manuscript quotes is in results/, and a changed result changes what is generated."""

import json
import shutil

from dynint.paper import build
from dynint.paper.numbers import keys_used, read_numbers_tex


def test_the_committed_generated_sources_are_those_the_results_give():
    stale = build.stale_sources(build.load_tables(), build.load_benchmarks())
    assert stale == [], f"run python paper/build.py: {stale} differ from results/"


def test_every_number_the_manuscript_quotes_is_defined_by_the_results():
    defined = read_numbers_tex((build.PAPER_DIR / "generated" / "numbers.tex").read_text())
    used = keys_used((build.PAPER_DIR / build.MANUSCRIPT).read_text())
    assert len(used) > 100
    assert [key for key in used if key not in defined] == []


def test_each_generated_number_is_its_json_value():
    defined = read_numbers_tex((build.PAPER_DIR / "generated" / "numbers.tex").read_text())
    checked = 0
    for path in sorted(build.RESULTS_DIR.glob("*.json")):
        table = json.loads(path.read_text())
        if "table" not in table:
            continue  # a benchmark's provenance
        for row in table["rows"]:
            for metric, summary in row["metrics"].items():
                key = f"{table['table']}/{row['dataset']}/{row['model']}/{metric}"
                assert defined[key] == f"{summary['mean']:.4f}", key
                checked += 1
    assert checked > 500


def test_a_changed_result_changes_the_generated_number_and_table(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy(build.RESULTS_DIR / "seq-full-ranking.json", results)
    table = json.loads((results / "seq-full-ranking.json").read_text())
    [row] = [r for r in table["rows"] if r["model"] == "sasrec-ce" and r["dataset"] == "amazon-beauty"]
    before = row["metrics"]["NDCG@10"]["mean"]
    row["metrics"]["NDCG@10"]["mean"] = 0.1234
    (results / "seq-full-ranking.json").write_text(json.dumps(table))
    assert f"{before:.4f}" != "0.1234"

    paper = tmp_path / "paper"
    tables = build.load_tables(results)
    build.write_sources(tables, {}, paper)
    numbers = (paper / "generated" / "numbers.tex").read_text()
    assert r"\dynintnumber{seq-full-ranking/amazon-beauty/sasrec-ce/NDCG@10}{0.1234}" in numbers
    assert "0.1234" in (paper / "generated" / "tables" / "seq-full-ranking.tex").read_text()
    assert build.stale_sources(tables, {}, paper) == []
    stale = build.stale_sources(tables, {}, build.PAPER_DIR)
    assert "generated/numbers.tex" in stale and "generated/tables/seq-full-ranking.tex" in stale


def test_without_latex_the_build_says_so_and_still_writes_the_sources(tmp_path, monkeypatch, capsys):
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy(build.RESULTS_DIR / "quickstart.json", results)
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    code = build.main(["--results-dir", str(results), "--paper-dir", str(tmp_path / "paper")])
    assert code == 0
    assert "no LaTeX found" in capsys.readouterr().out
    assert (tmp_path / "paper" / "generated" / "tables" / "quickstart.tex").exists()
    assert (results / "quickstart.png").exists()  # the table's figure, drawn again from its JSON
    assert build.main(["--check", "--results-dir", str(results), "--paper-dir", str(tmp_path / "paper")]) == 0


def test_a_results_file_that_is_not_json_is_named(tmp_path, capsys):
    (tmp_path / "broken.json").write_text("{not json")
    assert build.main(["--results-dir", str(tmp_path), "--no-pdf"]) == 2
    assert f"{tmp_path / 'broken.json'}: not JSON" in capsys.readouterr().err
