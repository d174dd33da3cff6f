"""Write a results table as JSON (for tools and paper/), CSV and Markdown (for people)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from dynint.io import write_json_atomic, write_text_atomic


def write_table(table: dict[str, Any], results_dir: str | Path) -> list[Path]:
    """Write `results_dir/NAME.{json,csv,md}` atomically; returns the paths written."""
    results_dir = Path(results_dir)
    name = table["table"]
    return [
        write_json_atomic(results_dir / f"{name}.json", table),
        write_text_atomic(results_dir / f"{name}.csv", render_csv(table)),
        write_text_atomic(results_dir / f"{name}.md", render_markdown(table)),
    ]


def render_csv(table: dict[str, Any]) -> str:
    metrics = table["metric_names"]
    records = table.get("record_columns", [])
    header = ["model", "dataset", "n_seeds"]
    for metric in metrics:
        header += [f"{metric}_mean", f"{metric}_std", f"{metric}_published"]
    for column in records:
        header += [f"{column}_mean", f"{column}_std"]
    header += ["wall_time_s_mean", "config", "published_source", "notes"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in table["rows"]:
        published = row["published"] or {}
        line: list[Any] = [row["model"], row["dataset"], len(row["seeds"])]
        for metric in metrics:
            summary = row["metrics"].get(metric)  # absent: a task the row does not train
            line += [f"{summary['mean']:.6f}", f"{summary['std']:.6f}"] if summary else ["", ""]
            line.append(published.get(metric, ""))
        for column in records:
            summary = row.get("record_metrics", {}).get(column)
            line += [f"{summary['mean']:.6f}", f"{summary['std']:.6f}"] if summary else ["", ""]
        line += [f"{row['wall_time_s']:.2f}", row["config"], published.get("source", ""), row["notes"]]
        writer.writerow(line)
    return out.getvalue()


def render_markdown(table: dict[str, Any]) -> str:
    metrics = table["metric_names"]
    records = table.get("record_columns", [])
    columns = [*metrics, *records]
    lines = [f"# {table['table']}", "", table["description"], ""]
    lines += ["Protocol: " + "; ".join(f"{k}: {v}" for k, v in table["protocol"].items()), ""]
    for dataset in dict.fromkeys(row["dataset"] for row in table["rows"]):
        lines += [f"## {dataset}", ""]
        lines.append("| model | seeds | " + " | ".join(columns) + " | wall time (s) | best / last epoch |")
        lines.append("| --- | --- | " + " | ".join("---" for _ in columns) + " | --- | --- |")
        for row in (r for r in table["rows"] if r["dataset"] == dataset):
            cells = [_mean_std(row["metrics"][m]) if m in row["metrics"] else "–" for m in metrics]
            cells += [_record_cell(row.get("record_metrics", {}).get(c)) for c in records]
            lines.append(
                f"| {row['model']} | {len(row['seeds'])} | "
                + " | ".join(cells)
                + f" | {row['wall_time_s']:.1f} | {_epochs(row)} |"
            )
        for published in _published_for(table, dataset):
            cells = [f"{published['metrics'][m]:.4f}" if m in published["metrics"] else "–" for m in metrics]
            cells += ["–" for _ in records]
            lines.append(f"| {published['model']} (published) | – | " + " | ".join(cells) + " | – | – |")
        lines.append("")
        lines += _expert_utilisation(r for r in table["rows"] if r["dataset"] == dataset)
    sources = sorted(
        {p["metrics"]["source"] for d in {r["dataset"] for r in table["rows"]} for p in _published_for(table, d)}
    )
    if sources:
        lines += ["Published rows: " + "; ".join(sources) + ".", ""]
    if table.get("failed_rows"):
        lines += ["## Failed runs", ""]
        for row in table["failed_rows"]:
            where = f"{row['model']} on {row['dataset']}"
            lines += [f"- {where}, seed {failure['seed']}: {failure['message']}" for failure in row["failures"]]
        lines.append("")
    if table.get("notes"):
        lines += ["## Notes", ""] + [f"- {note}" for note in table["notes"]] + [""]
    prov = table["provenance"]
    lines += [
        "## Provenance",
        "",
        f"- commit: `{prov['commit']}`",
        f"- machine: {prov['machine']}",
        f"- date: {prov['date']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in prov["versions"].items() if v),
        "- configs: " + ", ".join(sorted({f"`{row['config']}`" for row in table["rows"]})),
        f"- command: `{table['command']}`",
        "",
    ]
    return "\n".join(lines)


def _published_for(table: dict[str, Any], dataset: str) -> list[dict[str, Any]]:
    """Published rows to show under `dataset`: the table's reference rows, else each row's own."""
    shown = {(p["dataset"], p["model"]): p for p in table.get("published_rows", [])}
    for row in table["rows"]:
        if row["published"] and (row["dataset"], row["published_model"]) not in shown:
            shown[(row["dataset"], row["published_model"])] = {
                "dataset": row["dataset"],
                "model": row["published_model"],
                "metrics": row["published"],
            }
    return [p for (d, _), p in shown.items() if d == dataset]


def _epochs(row: dict[str, Any]) -> str:
    """Each seed's best validation epoch and last trained epoch (neural rows), e.g. `47/57`."""
    runs = [run for run in row.get("runs", []) if "best_epoch" in run]
    return ", ".join(f"{run['best_epoch']}/{run['epochs']}" for run in runs) or "–"


def _expert_utilisation(rows: Any) -> list[str]:
    """Each gate's mean weight per expert (mean over seeds), for the rows whose models have gates."""
    gated = [row for row in rows if row.get("expert_utilisation")]
    if not gated:
        return []
    lines = ["Expert utilisation (each gate's mean weight per expert on the test samples, mean over seeds):", ""]
    lines += ["| model | gate | weight per expert |", "| --- | --- | --- |"]
    for row in gated:
        for gate, weights in row["expert_utilisation"].items():
            lines.append(f"| {row['model']} | {gate} | " + ", ".join(f"{w:.3f}" for w in weights) + " |")
    return [*lines, ""]


def _record_cell(summary: dict[str, Any] | None) -> str:
    """A record column's cell: a count (the same for every seed) as an integer, else mean ± std."""
    if summary is None:
        return "–"
    if summary["std"] == 0 and all(float(v).is_integer() for v in summary["values"]):
        return f"{int(summary['mean']):,}"
    return f"{_record_number(summary['mean'])} ± {_record_number(summary['std'])}"


def _record_number(value: float) -> str:
    """One decimal, or three significant digits for a value below 0.1 (a privacy delta of 1/943);
    below 1e-9 (float rounding in a std) it shows as 0.0."""
    return f"{value:.3g}" if 1e-9 <= abs(value) < 0.1 else f"{value:.1f}"


def _mean_std(summary: dict[str, Any]) -> str:
    return f"{summary['mean']:.4f} ± {summary['std']:.4f}"
