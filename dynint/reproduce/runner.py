"""`dynint reproduce TABLE`: run every (row, data set, seed) of a table and write it to results/.

Each run keeps its folder under `runs_dir`. A run whose folder already holds a `result.json` for
the same resolved config is reused rather than run again, and an interrupted neural run resumes
from its latest checkpoint (ending with the metrics an uninterrupted run has), so a long table can
be stopped and restarted, or built a few rows at a time (`rows=`) and then assembled in full.
A run whose training diverges fails its row, which the table lists under `failed_rows`, and the
other rows go on. One process at a time reproduces a table (a lock in its runs folder).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from dynint.components import TRAINERS, get_model_entry
from dynint.config import parse_config
from dynint.config.loader import config_to_dict, load_config
from dynint.config.schema import ExperimentConfig
from dynint.data.prepared import PreparedData, prepare_data
from dynint.errors import ConfigError, TrainingDiverged
from dynint.provenance import REPO_ROOT, provenance
from dynint.reproduce.published import published_numbers
from dynint.reproduce.render import write_table
from dynint.reproduce.summary import summarize_runs
from dynint.reproduce.tables import RowSpec, TableSpec, get_table
from dynint.run_lock import RunLock
from dynint.runner import run_directory, run_experiment


def reproduce_table(
    name: str,
    *,
    seeds: int | None = None,
    data_dir: str | Path | None = None,
    results_dir: str | Path = "results",
    runs_dir: str | Path = "runs/reproduce",
    datasets: tuple[str, ...] | None = None,
    rows: tuple[str, ...] | None = None,
    reuse: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the table's grid (optionally only some `datasets` and `rows`), aggregate test metrics
    over seeds, and write results_dir/NAME.*. With `reuse`, finished runs are read back and
    interrupted neural runs resumed; without it, every run starts afresh. When only some rows or
    data sets are run, the other rows of an existing results_dir/NAME.json are kept where their
    recorded config and seeds are still what the table asks for (each keeps its runs' provenance),
    so a table can be built piece by piece, across sessions. A row with a diverged run is left
    out of the table's rows and listed, with each failure, under `failed_rows`."""
    spec = get_table(name)
    seed_count = seeds if seeds is not None else spec.default_seeds
    chosen_rows = _chosen_rows(spec, rows)
    chosen = datasets or spec.datasets
    with RunLock(Path(runs_dir) / spec.name / ".reproduce.lock", f"table {spec.name} (runs in {runs_dir})"):
        return _reproduce(spec, seed_count, chosen_rows, chosen, data_dir, results_dir, runs_dir, reuse, progress)


def _reproduce(
    spec: TableSpec,
    seed_count: int,
    chosen_rows: tuple[RowSpec, ...],
    chosen: tuple[str, ...],
    data_dir: str | Path | None,
    results_dir: str | Path,
    runs_dir: str | Path,
    reuse: bool,
    progress: bool,
) -> dict[str, Any]:
    name = spec.name
    jobs = [
        (dataset, row, _row_seeds(row, dataset, seed_count))
        for dataset in chosen
        for row in chosen_rows
        if row.runs_on(dataset)
    ]
    prepared: dict[str, PreparedData] = {}
    table_rows, failed_rows = [], []
    bar = tqdm(
        total=sum(len(s) for _, _, s in jobs),
        desc=f"reproduce {name}",
        unit="run",
        disable=not progress,
        file=sys.stderr,
    )
    for dataset, row, seed_list in jobs:
        base = _row_config(spec, row, dataset, runs_dir)
        key = repr((config_to_dict(base.data), config_to_dict(base.split)))
        runs, failures = [], []
        for seed in seed_list:
            bar.set_postfix_str(f"{row.model} on {dataset}, seed {seed}")
            config = _with_data_dir(replace(base, seed=seed), data_dir)
            finished = _finished_run(config) if reuse else None
            if finished is None:
                if key not in prepared:
                    prepared[key] = prepare_data(base, data_dir)
                if reuse and get_model_entry(config.model.name).kind in TRAINERS and config.train.checkpoint:
                    config = replace(config, train=replace(config.train, resume=True))
                try:
                    run_experiment(config, data=prepared[key], data_dir=data_dir, progress=False)
                except TrainingDiverged as error:
                    failures.append({"seed": seed, "run_dir": str(run_directory(config)), "message": str(error)})
                    bar.update(1)
                    continue
                finished = _finished_run(config)
                if finished is None:
                    raise RuntimeError(f"run {run_directory(config)} ended without a readable result.json")
            runs.append(finished)
            bar.update(1)
        if failures:
            failed_rows.append({"model": row.model, "dataset": dataset, "seeds": seed_list, "failures": failures})
        else:
            table_rows.append(_table_row(spec, row, dataset, seed_list, runs))
    bar.close()
    kept = []
    if chosen_rows != spec.rows or tuple(chosen) != spec.datasets:
        done = {(row["model"], row["dataset"]) for row in table_rows + failed_rows}
        kept = [
            r
            for r in _still_valid_rows(spec, seed_count, results_dir, runs_dir)
            if (r["model"], r["dataset"]) not in done
        ]
    order = {
        (row.model, dataset): i for i, (dataset, row) in enumerate((d, r) for d in spec.datasets for r in spec.rows)
    }
    table_rows = sorted(table_rows + kept, key=lambda r: order[(r["model"], r["dataset"])])
    table = _table_document(spec, table_rows, seed_count, chosen_rows if not kept else spec.rows)
    table["failed_rows"] = failed_rows
    table["published_rows"] = [
        {"dataset": dataset, "model": model, "metrics": published}
        for dataset in spec.datasets
        if dataset in chosen or any(r["dataset"] == dataset for r in kept)
        for model in spec.published_models
        if (published := published_numbers(dataset, model)) is not None
    ]
    write_table(table, results_dir)
    if spec.figure is not None and table_rows and spec.figure(table, Path(results_dir) / f"{name}.png"):
        print(f"wrote {Path(results_dir) / f'{name}.png'}", file=sys.stderr)
    return table


def _row_config(spec: TableSpec, row: RowSpec, dataset: str, runs_dir: str | Path) -> ExperimentConfig:
    """The config a row runs on `dataset` (any seed): its file, the data set, the row's overrides."""
    base = load_config(spec.config_path(row, dataset), [f"data.name={dataset}", *row.overrides_for(dataset)])
    return replace(base, name=row.model, output_dir=str(Path(runs_dir) / spec.name))


def _still_valid_rows(spec: TableSpec, seed_count: int, results_dir: str | Path, runs_dir: str | Path) -> list[dict]:
    """The rows of the table's existing JSON whose recorded config, read through today's schema,
    equals the config the row would run today, with the seeds it would run."""
    path = Path(results_dir) / f"{spec.name}.json"
    if not path.exists():
        return []
    rows_by_key = {(row.model, dataset): row for row in spec.rows for dataset in spec.datasets}
    valid = []
    for saved in json.loads(path.read_text()).get("rows", []):
        row = rows_by_key.get((saved["model"], saved["dataset"]))
        if row is None or saved["seeds"] != _row_seeds(row, saved["dataset"], seed_count):
            continue
        try:
            recorded = config_to_dict(parse_config({**saved["resolved_config"], "seed": 0}))
        except ConfigError:
            continue
        today = config_to_dict(_row_config(spec, row, saved["dataset"], runs_dir))
        if _comparable({**recorded, "seed": None}) == _comparable({**today, "seed": None}):
            valid.append(saved)
    return valid


def _chosen_rows(spec: TableSpec, names: tuple[str, ...] | None) -> tuple[RowSpec, ...]:
    if names is None:
        return spec.rows
    known = {row.model: row for row in spec.rows}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"table {spec.name} has no row {', '.join(unknown)}; its rows: {', '.join(known)}")
    return tuple(known[n] for n in names)


def _row_seeds(row: RowSpec, dataset: str, seed_count: int) -> list[int]:
    cap = row.seed_cap(dataset)
    return list(range(min(seed_count, cap) if cap else seed_count))


def _with_data_dir(config: ExperimentConfig, data_dir: str | Path | None) -> ExperimentConfig:
    """The config as `run_experiment` records it (it stores the data directory it was given)."""
    if data_dir is None:
        return config
    return replace(config, data=replace(config.data, data_dir=str(data_dir)))


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """A resolved config without what does not change a run's result: its label, where files
    live, and whether it was resumed."""
    config = json.loads(json.dumps(config))
    config.pop("output_dir", None)
    config.pop("name", None)
    config.get("data", {}).pop("data_dir", None)
    for key in ("resume", "checkpoint_dir", "checkpoint_every_steps"):
        config.get("train", {}).pop(key, None)
    return config


def _finished_run(config: ExperimentConfig) -> dict[str, Any] | None:
    """The saved result of `config`'s finished run, if its folder holds one for this same config
    (a failed run is run again: it resumes from its last good checkpoint)."""
    path = run_directory(config) / "result.json"
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    if result.get("status", "finished") != "finished":
        return None
    try:  # read as today's schema reads it, so fields added since then take their defaults
        saved = config_to_dict(parse_config(result.get("config", {})))
    except ConfigError:
        return None
    if _comparable(saved) != _comparable(config_to_dict(config)):
        return None
    return result


def _table_row(spec: TableSpec, row: RowSpec, dataset: str, seeds: list[int], runs: list[dict]) -> dict[str, Any]:
    published = published_numbers(dataset, row.published_model) if row.published_model else None
    return {
        "model": row.model,
        "dataset": dataset,
        "seeds": seeds,
        "metrics": summarize_runs(spec.metrics, [run["metrics"]["test"] for run in runs]),
        "valid_metrics": summarize_runs(spec.metrics, [run["metrics"]["valid"] for run in runs]),
        **_record_summaries(spec, runs),
        "published": published,
        "published_model": row.published_model,
        "wall_time_s": sum(run["wall_time_s"] for run in runs) / len(runs),
        "config": str(spec.config_path(row, dataset).relative_to(REPO_ROOT)),
        "overrides": list(row.overrides_for(dataset)),
        "resolved_config": _comparable(runs[0]["config"]) | {"seed": None},
        "runs": [_run_record(run) for run in runs],
        "notes": row.notes,
        **({"details": spec.row_details(runs)} if spec.row_details is not None else {}),
    }


def _record_summaries(spec: TableSpec, runs: list[dict]) -> dict[str, Any]:
    """The table's record columns summarised over the row's seeds, and, for models with gates,
    each gate's mean weight per expert averaged over the seeds."""
    records = [run.get("extra", {}) for run in runs]
    summaries: dict[str, Any] = {}
    if spec.record_columns:
        summaries["record_metrics"] = summarize_runs(spec.record_columns, records)
    gates = [record["expert_utilisation"] for record in records if record.get("expert_utilisation")]
    if gates and len(gates) == len(runs):
        summaries["expert_utilisation"] = {
            name: [sum(weights) / len(gates) for weights in zip(*(g[name] for g in gates), strict=True)]
            for name in gates[0]
        }
    return summaries


def _run_record(run: dict[str, Any]) -> dict[str, Any]:
    """Where one seed's numbers came from: its code version, machine and date (and those of the
    sessions it was resumed from), and its training."""
    extra = run.get("extra", {})
    record = {
        "seed": run["seed"],
        "commit": run["provenance"]["commit"],
        "machine": run["provenance"]["machine"],
        "date": run["provenance"]["date"],
        "wall_time_s": run["wall_time_s"],
    }
    earlier = run["provenance"].get("earlier_sessions")
    if earlier:  # resumed: the sessions that trained it before the one that finished it
        record["resumed_from"] = earlier
    for key in ("best_epoch", "epochs", "refit_epochs", "test_before_refit"):
        if key in extra:
            record[key] = extra[key]
    if extra.get("epoch_train_time_s"):
        times = extra["epoch_train_time_s"]
        record["mean_epoch_train_time_s"] = sum(times) / len(times)
    return record


def _table_document(spec: TableSpec, rows: list[dict], seed_count: int, chosen_rows: tuple[RowSpec, ...]) -> dict:
    command = f"dynint reproduce {spec.name} --seeds {seed_count}"
    if chosen_rows != spec.rows:
        command += " --rows " + ",".join(row.model for row in chosen_rows)
    return {
        "table": spec.name,
        "description": spec.description,
        "protocol": spec.protocol,
        "metric_names": list(spec.metrics),
        "record_columns": list(spec.record_columns),
        "provenance": provenance(),
        "command": command,
        "generated_at_unix": time.time(),
        "notes": list(spec.notes),
        "rows": rows,
    }
