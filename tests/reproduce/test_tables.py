import pytest

from dynint.components import get_model_entry
from dynint.config.loader import load_config
from dynint.eval.multitask_metrics import multitask_metric_names
from dynint.models.multitask.config import TASKS
from dynint.reproduce.tables import TABLES

CELLS = [(table, row, dataset) for table in TABLES.values() for row in table.rows for dataset in table.datasets]


@pytest.mark.parametrize("table,row,dataset", CELLS, ids=[f"{t.name}-{r.model}-{d}" for t, r, d in CELLS])
def test_every_table_cell_has_a_valid_config(table, row, dataset):
    config = load_config(table.config_path(row, dataset), [f"data.name={dataset}", *row.overrides_for(dataset)])
    assert config.data.name == dataset
    kind = get_model_entry(config.model.name).kind
    if kind == "ctr" or config.eval.kind == "ctr":  # CTR models, and baselines scoring CTR samples
        assert table.metrics == ("AUC", "GAUC", "logloss")
    elif kind == "multitask":
        trained = multitask_metric_names(config.model.tasks)
        assert config.train.early_stopping_metric in trained
        assert set(table.metrics) & set(trained) and set(table.metrics) <= set(multitask_metric_names(TASKS))
    else:
        assert set(table.metrics) <= {f"{m}@{k}" for m in ("HR", "NDCG", "MRR") for k in config.eval.ks}


def test_row_seed_caps_and_overrides_are_per_data_set():
    rows = {row.model: row for row in TABLES["seq-full-ranking"].rows}
    assert rows["gru4rec"].seed_cap("amazon-beauty") == 1 and rows["sasrec-ce"].seed_cap("amazon-beauty") is None
    assert rows["gru4rec"].overrides_for("amazon-beauty") == ("train.max_epochs=20",)
    assert rows["sasrec-ce"].overrides_for("ml-100k") == ("train.max_epochs=100",)
    assert rows["sasrec-ce"].overrides_for("amazon-beauty") == ()
