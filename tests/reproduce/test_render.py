import csv
import io

from dynint.reproduce.render import render_csv, render_markdown
from dynint.reproduce.summary import summarize_runs

PROVENANCE = {"commit": "abc", "machine": "test", "date": "today", "versions": {}}


def _multitask_table() -> dict:
    """Two rows: a single-task row without like_AUC and an MMoE row with gates."""
    runs = {
        "single-engagement": [{"engagement_AUC": 0.8}, {"engagement_AUC": 0.82}],
        "mmoe": [{"engagement_AUC": 0.81, "like_AUC": 0.7}, {"engagement_AUC": 0.83, "like_AUC": 0.72}],
    }
    rows = [
        {
            "model": model,
            "dataset": "ml-100k",
            "seeds": [0, 1],
            "metrics": summarize_runs(("engagement_AUC", "like_AUC"), metrics),
            "record_metrics": summarize_runs(
                ("parameters", "train_time_s"),
                [{"parameters": 1234567, "train_time_s": 10.0}, {"parameters": 1234567, "train_time_s": 12.0}],
            ),
            "published": None,
            "wall_time_s": 20.0,
            "config": f"experiments/multitask/{model}.yaml",
            "notes": "",
        }
        for model, metrics in runs.items()
    ]
    rows[1]["expert_utilisation"] = {"engagement": [0.25, 0.75], "like": [0.5, 0.5]}
    return {
        "table": "multitask",
        "description": "test",
        "protocol": {"kind": "multitask"},
        "metric_names": ["engagement_AUC", "like_AUC"],
        "record_columns": ["parameters", "train_time_s"],
        "provenance": PROVENANCE,
        "command": "dynint reproduce multitask",
        "rows": rows,
    }


def test_a_metric_a_row_does_not_report_is_left_out_of_its_summary():
    summary = summarize_runs(("engagement_AUC", "like_AUC"), [{"engagement_AUC": 0.8}, {"engagement_AUC": 0.9}])
    assert set(summary) == {"engagement_AUC"}


def test_markdown_shows_missing_metrics_record_columns_and_expert_utilisation():
    markdown = render_markdown(_multitask_table())
    assert "| model | seeds | engagement_AUC | like_AUC | parameters | train_time_s |" in markdown
    assert "| single-engagement | 2 | 0.8100 ± 0.0141 | – | 1,234,567 | 11.0 ± 1.4 |" in markdown
    assert "| mmoe | engagement | 0.250, 0.750 |" in markdown and "| mmoe | like | 0.500, 0.500 |" in markdown


def test_csv_leaves_missing_metrics_empty_and_adds_record_columns():
    rows = list(csv.DictReader(io.StringIO(render_csv(_multitask_table()))))
    assert rows[0]["like_AUC_mean"] == "" and float(rows[1]["like_AUC_mean"]) == 0.71
    assert float(rows[0]["parameters_mean"]) == 1234567 and float(rows[0]["train_time_s_std"]) > 0


def test_a_record_column_below_one_tenth_keeps_three_significant_digits():
    table = _multitask_table()
    table["record_columns"] = ["delta"]
    for row in table["rows"]:
        row["record_metrics"] = summarize_runs(("delta",), [{"delta": 1 / 943}, {"delta": 1 / 943}])
    assert "| single-engagement | 2 | 0.8100 ± 0.0141 | – | 0.00106 ± 0.0 |" in render_markdown(table)
