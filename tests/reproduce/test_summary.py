import math

from dynint.reproduce.summary import summarize_metric, summarize_runs


def test_summary_is_mean_and_sample_standard_deviation():
    summary = summarize_metric([0.1, 0.2, 0.3])
    assert math.isclose(summary["mean"], 0.2)
    assert math.isclose(summary["std"], 0.1)  # sqrt(((-.1)^2 + 0 + .1^2) / 2)
    assert summary["values"] == [0.1, 0.2, 0.3]


def test_single_seed_has_zero_std():
    assert summarize_metric([0.5])["std"] == 0.0


def test_runs_are_summarized_per_metric():
    summary = summarize_runs(["HR@10"], [{"HR@10": 1.0, "NDCG@10": 0.0}, {"HR@10": 0.0, "NDCG@10": 0.0}])
    assert list(summary) == ["HR@10"] and summary["HR@10"]["mean"] == 0.5
