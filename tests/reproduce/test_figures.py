"""Table figures drawn from real results documents, and nothing drawn where nothing is reported."""

import json

import pytest

from dynint.provenance import REPO_ROOT
from dynint.reproduce import figures
from dynint.reproduce.tables import TABLES

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_draws_its_figure_from_its_results(name, tmp_path):
    table = json.loads((REPO_ROOT / "results" / f"{name}.json").read_text())
    assert TABLES[name].figure is not None
    assert TABLES[name].figure(table, tmp_path / f"{name}.png")
    assert (tmp_path / f"{name}.png").read_bytes().startswith(PNG_SIGNATURE)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_multitask_draws_its_expert_utilisation_beside_the_bars(tmp_path):
    table = json.loads((REPO_ROOT / "results" / "multitask.json").read_text())
    assert TABLES["multitask"].figure(table, tmp_path / "multitask.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["multitask-experts.png", "multitask.png"]


def test_a_table_without_the_figures_metric_or_history_lengths_draws_nothing(tmp_path):
    table = {"table": "t", "rows": [{"model": "poprec", "dataset": "d", "metrics": {"AUC": {"mean": 0.7, "std": 0}}}]}
    assert not figures.model_bars(("NDCG@10",))(table, tmp_path / "a.png")
    assert not figures.history_length_curves("AUC")(table, tmp_path / "b.png")
    assert not figures.expert_utilisation(table, tmp_path / "c.png")
    assert list(tmp_path.iterdir()) == []


def test_bars_come_per_data_set_and_metric_with_published_rows_after_ours():
    table = {
        "rows": [
            {"model": "a", "dataset": "d1", "metrics": {"NDCG@10": {"mean": 0.1, "std": 0.01}}},
            {"model": "b", "dataset": "d2", "metrics": {"AUC": {"mean": 0.8, "std": 0.0}}},
        ],
        "published_rows": [
            {"model": "p", "dataset": "d1", "metrics": {"NDCG@10": 0.05, "source": "paper"}},
            {"model": "q", "dataset": "d2", "metrics": {"NDCG@10": 0.04}},
        ],
    }
    panels = figures._panels(table, ("NDCG@10", "AUC"))
    assert [(dataset, metric, [bar["label"] for bar in bars]) for dataset, metric, bars in panels] == [
        ("d1", "NDCG@10", ["a", "p (published)"]),
        ("d2", "AUC", ["b"]),  # d2's NDCG@10 panel would hold only a published bar
    ]


def test_privacy_draws_accuracy_against_the_spent_budget(tmp_path):
    table = json.loads((REPO_ROOT / "results" / "privacy.json").read_text())
    assert TABLES["privacy"].figure(table, tmp_path / "privacy.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["privacy-epsilon.png", "privacy.png"]
    no_private_rows = {**table, "rows": [r for r in table["rows"] if "dp" not in r["model"]]}
    draw = figures.accuracy_against_budget("NDCG@10", (("DP-SGD", "sasrec-ce-dp-eps"),), ())
    assert draw(no_private_rows, tmp_path / "empty.png")  # the panel still shows, with no line
