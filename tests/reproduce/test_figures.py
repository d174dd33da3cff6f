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


def test_the_log_linear_trend_recovers_an_exact_line_and_bands_noisy_points():
    import numpy as np

    sizes = np.array([1e5, 1e6, 1e7, 1e8])
    grid, fitted, low, high = figures.log_linear_trend(sizes, 0.05 + 0.01 * np.log10(sizes))
    assert grid[0] == pytest.approx(1e5) and grid[-1] == pytest.approx(1e8)
    np.testing.assert_allclose(fitted, 0.05 + 0.01 * np.log10(grid), atol=1e-12)
    np.testing.assert_allclose(high - low, 0.0, atol=1e-9)  # no residual: no uncertainty
    noisy = 0.05 + 0.01 * np.log10(sizes) + np.array([0.004, -0.004, -0.004, 0.004])
    _, fitted, low, high = figures.log_linear_trend(sizes, noisy)
    assert np.all(low < fitted) and np.all(fitted < high)
    assert (high - low)[0] > (high - low)[len(grid) // 2]  # widest away from the sizes' centre
    assert figures.log_linear_trend(sizes[:2], noisy[:2]) is None


def test_scaling_curves_draw_sized_rows_only(tmp_path):
    def row(model, size, value):
        return {
            "model": model,
            "dataset": "d",
            "metrics": {"NDCG@10": {"mean": value, "std": 0.0}},
            "valid_metrics": {"NDCG@10": {"mean": value + 0.01, "std": 0.0}},
            "record_metrics": {"body": {"mean": size, "std": 0.0}, "flops": {"mean": 1e3 * size, "std": 0.0}},
        }

    draw = figures.scaling_curves("NDCG@10", "body", "flops")
    unsized = {"table": "t", "rows": [row("sasrec", 1e5, 0.1)]}
    assert not draw(unsized, tmp_path / "none.png")
    sized = {"table": "t", "rows": [row(f"m-{w}x2", w**2, 0.1 + w / 1e4) for w in (64, 128, 256)]}
    assert draw(sized, tmp_path / "scaling.png")
    assert (tmp_path / "scaling.png").read_bytes().startswith(PNG_SIGNATURE)
