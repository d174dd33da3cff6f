"""`dynint reproduce TABLE`: run every (row, data set, seed) of a table and write it to results/."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from dynint.config.loader import config_to_dict, load_config
from dynint.provenance import REPO_ROOT, provenance
from dynint.reproduce.published import s3rec_published
from dynint.reproduce.render import write_table
from dynint.reproduce.summary import summarize_runs
from dynint.reproduce.tables import TableSpec, get_table
from dynint.runner import PreparedData, prepare_data, run_experiment


def reproduce_table(
    name: str,
    *,
    seeds: int | None = None,
    data_dir: str | Path | None = None,
    results_dir: str | Path = "results",
    runs_dir: str | Path = "runs/reproduce",
    datasets: tuple[str, ...] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the table's grid, aggregate test metrics over seeds, and write results_dir/NAME.*."""
    spec = get_table(name)
    seed_list = list(range(seeds if seeds is not None else spec.default_seeds))
    chosen = datasets or spec.datasets
    jobs = [(dataset, row) for dataset in chosen for row in spec.rows]
    prepared: dict[str, PreparedData] = {}
    rows = []
    bar = tqdm(
        total=len(jobs) * len(seed_list), desc=f"reproduce {name}", unit="run", disable=not progress, file=sys.stderr
    )
    for dataset, row in jobs:
        base = load_config(spec.config_path(row, dataset), [f"data.name={dataset}"])
        base = replace(base, name=row.model, output_dir=str(Path(runs_dir) / name))
        key = repr((config_to_dict(base.data), config_to_dict(base.split)))
        if key not in prepared:
            prepared[key] = prepare_data(base, data_dir)
        test_metrics, valid_metrics, wall_times = [], [], []
        for seed in seed_list:
            bar.set_postfix_str(f"{row.model} on {dataset}, seed {seed}")
            result = run_experiment(replace(base, seed=seed), data=prepared[key], data_dir=data_dir, progress=False)
            test_metrics.append(result.metrics["test"])
            valid_metrics.append(result.metrics["valid"])
            wall_times.append(result.wall_time_s)
            bar.update(1)
        published = s3rec_published(dataset, row.published_model) if row.published_model else None
        rows.append(
            {
                "model": row.model,
                "dataset": dataset,
                "seeds": seed_list,
                "metrics": summarize_runs(spec.metrics, test_metrics),
                "valid_metrics": summarize_runs(spec.metrics, valid_metrics),
                "published": published,
                "published_model": row.published_model,
                "wall_time_s": sum(wall_times) / len(wall_times),
                "config": str(spec.config_path(row, dataset).relative_to(REPO_ROOT)),
                "resolved_config": config_to_dict(base),
                "notes": row.notes,
            }
        )
    bar.close()
    table = _table_document(spec, rows, seed_list, data_dir)
    table["published_rows"] = [
        {"dataset": dataset, "model": model, "metrics": published}
        for dataset in chosen
        for model in spec.published_models
        if (published := s3rec_published(dataset, model)) is not None
    ]
    write_table(table, results_dir)
    return table


def _table_document(spec: TableSpec, rows: list[dict], seeds: list[int], data_dir: str | Path | None) -> dict[str, Any]:
    command = f"dynint reproduce {spec.name} --seeds {len(seeds)}"
    return {
        "table": spec.name,
        "description": spec.description,
        "protocol": spec.protocol,
        "metric_names": list(spec.metrics),
        "provenance": provenance(),
        "command": command,
        "generated_at_unix": time.time(),
        "notes": list(spec.notes),
        "rows": rows,
    }
