"""A results table as LaTeX: data set blocks, mean ± std where seeds vary, published rows, gaps."""

from dynint.paper.latex_tables import latex_table


def _row(model, dataset, mean, std, seeds, **records):
    return {
        "model": model,
        "dataset": dataset,
        "seeds": list(range(seeds)),
        "metrics": {"NDCG@10": {"mean": mean, "std": std, "values": []}},
        "record_metrics": {name: {"mean": v, "std": 0.0, "values": [v] * seeds} for name, v in records.items()},
    }


TABLE = {
    "table": "privacy",
    "provenance": {"commit": "abc1234", "machine": "Linux x86_64", "date": "2026-12-07"},
    "rows": [
        _row("sasrec_ce", "ml-100k", 0.08012, 0.0064, 3, parameters=211008.0),
        _row("itemknn", "ml-100k", 0.1014, 0.0, 3),
        _row("dp-eps8", "ml-100k", 0.0030, 0.0, 1, epsilon=float("inf")),
    ],
    "published_rows": [{"dataset": "ml-100k", "model": "sasrec", "metrics": {"NDCG@10": 0.0318, "source": "x"}}],
}


def test_rows_show_mean_and_std_only_where_the_seeds_differ():
    lines = latex_table(TABLE, ["NDCG@10", "HR@10"], ["parameters", "epsilon"]).splitlines()
    assert r"sasrec\_ce & 3 & 0.0801\,{\scriptsize$\pm$0.0064} & -- & 211{,}008 & -- \\" in lines
    assert r"itemknn & 3 & 0.1014 & -- & -- & -- \\" in lines  # deterministic: no spread shown
    assert r"dp-eps8 & 1 & 0.0030 & -- & -- & $\infty$ \\" in lines
    assert r"\textit{sasrec (published)} & -- & 0.0318 & -- & -- & -- \\" in lines
    assert r"\multicolumn{6}{l}{\emph{ml-100k}} \\" in lines
    assert lines[1] == "% commit abc1234, Linux x86_64, 2026-12-07"
