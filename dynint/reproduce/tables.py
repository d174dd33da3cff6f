"""Table specifications: the rows (model configs) and data sets each results table runs."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from dynint.provenance import REPO_ROOT

EXPERIMENTS_DIR = REPO_ROOT / "experiments"


@dataclass(frozen=True)
class RowSpec:
    """One model row: its id in the table, its experiment config, and the published row it faces.

    `max_seeds` caps the row's seeds below the table's (for the costliest rows; the table's notes
    must say so), and `overrides` are dotted config overrides the table applies to the config
    (`"train.max_epochs=40"`), both recorded with the row."""

    model: str
    config: str
    published_model: str | None = None
    notes: str = ""
    max_seeds: int | None = None
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    datasets: tuple[str, ...]
    rows: tuple[RowSpec, ...]
    protocol: dict
    metrics: tuple[str, ...]
    default_seeds: int = 3
    notes: tuple[str, ...] = field(default_factory=tuple)
    published_models: tuple[str, ...] = ()
    """Published S3-Rec rows shown beside ours for every data set, whether or not we run that model."""

    def config_path(self, row: RowSpec, dataset: str) -> Path:
        """The row's experiment file; `{dataset}` in `row.config` selects a per-data-set file."""
        return EXPERIMENTS_DIR / row.config.format(dataset=dataset)


_FULL_RANKING = {
    "kind": "full",
    "split": "leave-one-out (last event test, second to last validation, rest training)",
    "candidates": "all items",
    "exclude_seen": True,
    "ties": "equal scores ordered by item id, lower first",
}
_RANKING_METRICS = ("HR@5", "NDCG@5", "HR@10", "NDCG@10", "HR@20", "NDCG@20", "MRR@10")

POPREC_LEAK_NOTE = (
    "poprec-leaky counts popularity over all interactions, validation and test targets included "
    "(`split.fit_on_all_interactions=true`). That leaks the test answers into the ranker, and it is "
    "how the published S3-Rec PopRec row was computed: only this variant matches it. dynint's "
    "default poprec counts training events for validation and training plus validation events for "
    "test, never the test targets."
)

TABLES: dict[str, TableSpec] = {
    "seq-full-ranking": TableSpec(
        name="seq-full-ranking",
        description="Next-item full ranking on real data, leave-one-out, seen items excluded.",
        datasets=("ml-100k", "amazon-beauty", "amazon-sports"),
        rows=(
            RowSpec("poprec", "seq-full-ranking/poprec.yaml", published_model="poprec"),
            RowSpec("poprec-leaky", "seq-full-ranking/poprec-leaky.yaml", published_model="poprec", notes="leaks test"),
            RowSpec("itemknn", "seq-full-ranking/itemknn-{dataset}.yaml", notes="tuned on validation"),
            RowSpec("content", "seq-full-ranking/content-{dataset}.yaml", notes="tuned on validation"),
            RowSpec("hybrid", "seq-full-ranking/hybrid-{dataset}.yaml", notes="tuned on validation"),
        ),
        protocol=_FULL_RANKING,
        metrics=_RANKING_METRICS,
        published_models=("poprec", "gru4rec", "sasrec", "bert4rec", "s3rec"),
        notes=(
            POPREC_LEAK_NOTE,
            "Ties: PopRec gives many items equal counts; the protocol orders equal scores by item id "
            "(lower first), so the numbers are deterministic and independent of evaluation batch size.",
            "itemknn, content and hybrid: hyper-parameters chosen by `dynint tune` on the validation split only, "
            "one config per data set (the command is in each file's header; every trial is in results/tuning/). "
            "The S3-Rec paper has no item-CF or content row; compare them with its SASRec row "
            "(NDCG@10 0.0318 on Beauty, 0.0192 on Sports). These baselines are deterministic, so their std over "
            "seeds is 0.",
        ),
    ),
    "quickstart": TableSpec(
        name="quickstart",
        description="The bundled synthetic drifting-interest data set (no download needed).",
        datasets=("synthetic",),
        rows=(
            RowSpec("poprec", "quickstart/poprec.yaml"),
            RowSpec("gru4rec", "quickstart/gru4rec.yaml"),
            RowSpec("sasrec-ce", "quickstart/sasrec.yaml"),
        ),
        protocol=_FULL_RANKING,
        metrics=_RANKING_METRICS,
        notes=(
            "Synthetic users drift between item clusters over time; popularity ignores the drift, while the "
            "sequence models (small, few epochs, so the table runs in minutes on 2 CPU cores) follow it.",
        ),
    ),
}


def get_table(name: str) -> TableSpec:
    if name not in TABLES:
        nearest = difflib.get_close_matches(name, list(TABLES), n=1)
        hint = f"did you mean '{nearest[0]}'?" if nearest else f"available: {', '.join(sorted(TABLES))}"
        raise KeyError(f"unknown table '{name}'; {hint}")
    return TABLES[name]
