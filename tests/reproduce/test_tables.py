import pytest

from dynint.components import get_model_entry
from dynint.config.loader import load_config
from dynint.eval.beyond_accuracy import beyond_accuracy_metric_names
from dynint.eval.ctr_protocol import CTR_METRICS
from dynint.eval.multitask_metrics import multitask_metric_names
from dynint.models.multitask.config import TASKS
from dynint.reproduce.tables import TABLES
from dynint.temporal.protocol import stream_metric_names

CELLS = [
    (table, row, dataset)
    for table in TABLES.values()
    for row in table.rows
    for dataset in table.datasets
    if row.runs_on(dataset)
]


def reported_metrics(table, row, dataset) -> tuple[str, set[str]]:
    """The protocol a cell runs under and the metric names its runs report."""
    config = load_config(table.config_path(row, dataset), [f"data.name={dataset}", *row.overrides_for(dataset)])
    assert config.data.name == dataset
    kind = get_model_entry(config.model.name).kind
    if kind == "ctr" or config.eval.kind == "ctr":  # CTR models, and baselines scoring CTR samples
        return "ctr", set(CTR_METRICS)
    if config.temporal is not None:
        return "stream", set(stream_metric_names(config.eval.ks))
    if kind == "multitask":
        trained = multitask_metric_names(config.model.tasks)
        assert config.train.early_stopping_metric in trained
        return "multitask", set(trained)
    accuracy = {f"{m}@{k}" for m in ("HR", "NDCG", "MRR", "Recall") for k in config.eval.ks}
    return "ranking", accuracy | set(beyond_accuracy_metric_names(config.eval.beyond_accuracy, config.eval.ks))


@pytest.mark.parametrize("table,row,dataset", CELLS, ids=[f"{t.name}-{r.model}-{d}" for t, r, d in CELLS])
def test_every_table_cell_has_a_valid_config_that_reports_some_of_the_tables_metrics(table, row, dataset):
    protocol, reported = reported_metrics(table, row, dataset)
    assert set(table.metrics) & reported
    if protocol == "multitask":
        assert set(table.metrics) <= set(multitask_metric_names(TASKS))


@pytest.mark.parametrize("table", TABLES.values(), ids=list(TABLES))
def test_every_metric_of_a_table_is_reported_by_its_cells_and_one_protocol_tables_report_all(table):
    cells = [reported_metrics(table, row, dataset) for t, row, dataset in CELLS if t is table]
    assert set(table.metrics) <= set().union(*(reported for _, reported in cells))
    protocols = {protocol for protocol, _ in cells}
    if protocols <= {"ranking"} or protocols in ({"ctr"}, {"stream"}):
        assert all(set(table.metrics) <= reported for _, reported in cells)


def test_row_seed_caps_and_overrides_are_per_data_set():
    rows = {row.model: row for row in TABLES["seq-full-ranking"].rows}
    assert rows["gru4rec"].seed_cap("amazon-beauty") == 1 and rows["sasrec-ce"].seed_cap("amazon-beauty") is None
    assert rows["gru4rec"].overrides_for("amazon-beauty") == ("train.max_epochs=20",)
    assert rows["sasrec-ce"].overrides_for("ml-100k") == ("train.max_epochs=100",)
    assert rows["sasrec-ce"].overrides_for("amazon-beauty") == ()
