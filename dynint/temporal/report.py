"""What the `temporal` table keeps of each row's runs beyond its summary columns, and its figure.

`row_details(runs)` averages, over a row's seeds, each window's NDCG@10 and update time and the
NDCG@10 of every drift bucket; `plot_table(table, path)` draws, per data set, accuracy per window
for every model and strategy, and accuracy by drift bucket (needs matplotlib: the `bench` extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dynint.plotting import pyplot_or_none, save_figure

METRIC = "NDCG@10"


def row_details(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-window and per-drift-bucket means over the seeds' `result.json` records."""
    extras = [run.get("extra", {}) for run in runs]
    windows = [record["window"] for record in extras[0]["windows"]]
    details: dict[str, Any] = {
        "windows": windows,
        f"{METRIC} per window": _mean_over_seeds([[w["metrics"][METRIC] for w in e["windows"]] for e in extras]),
        "update time per window (s)": _mean_over_seeds([[w["update_time_s"] for w in e["windows"]] for e in extras]),
        "new items per window": [w["new_items"] for w in extras[0]["windows"]],
    }
    if all("drift_buckets" in e for e in extras):
        labels = list(extras[0]["drift_buckets"]["metrics"])
        details[f"{METRIC} by drift bucket"] = {
            label: float(np.mean([e["drift_buckets"]["metrics"][label][METRIC] for e in extras])) for label in labels
        }
        details["rows by drift bucket"] = {
            label: extras[0]["drift_buckets"]["metrics"][label]["rows"] for label in labels
        }
        details["drift bucket edges"] = extras[0]["drift_buckets"]["edges"]
    if all("switch_lag" in e for e in extras):
        details["switch lag"] = [e["switch_lag"] for e in extras]
    return details


def _mean_over_seeds(values: list[list[float]]) -> list[float]:
    return [float(v) for v in np.mean(np.asarray(values, dtype=np.float64), axis=0)]


def plot_table(table: dict[str, Any], path: Path) -> bool:
    """One row of panels per data set: NDCG@10 per window, and NDCG@10 by drift bucket."""
    plt = pyplot_or_none()
    if plt is None:
        return False
    rows = [row for row in table["rows"] if "details" in row]
    datasets = list(dict.fromkeys(row["dataset"] for row in rows))
    if not datasets:
        return False
    figure, axes = plt.subplots(len(datasets), 2, figsize=(12, 4 * len(datasets)), squeeze=False)
    styles = {"static": ":", "retrain": "-", "finetune": "--", "incremental": "-."}
    for (curve, buckets), dataset in zip(axes, datasets, strict=True):
        chosen = [row for row in rows if row["dataset"] == dataset]
        models = list(dict.fromkeys(row["model"].rsplit("-", 1)[0] for row in chosen))
        colours = {model: f"C{index}" for index, model in enumerate(models)}
        for row in chosen:
            model, strategy = row["model"].rsplit("-", 1)
            details = row["details"]
            curve.plot(
                details["windows"],
                details[f"{METRIC} per window"],
                linestyle=styles.get(strategy, "-"),
                color=colours[model],
                marker="o",
                markersize=3,
                label=row["model"],
            )
        curve.set_title(f"{dataset}: {METRIC} of each window's events")
        curve.set_xlabel("window")
        curve.set_ylabel(METRIC)
        curve.legend(fontsize=7, ncol=2)
        with_buckets = [row for row in chosen if f"{METRIC} by drift bucket" in row["details"]]
        if with_buckets:
            labels = list(with_buckets[0]["details"][f"{METRIC} by drift bucket"])
            width = 0.8 / len(with_buckets)
            hatches = {"static": "..", "retrain": "", "finetune": "//", "incremental": "xx"}
            for index, row in enumerate(with_buckets):
                model, strategy = row["model"].rsplit("-", 1)
                values = [row["details"][f"{METRIC} by drift bucket"].get(label, np.nan) for label in labels]
                buckets.bar(
                    np.arange(len(labels)) + index * width,
                    values,
                    width,
                    color=colours[model],
                    hatch=hatches.get(strategy, ""),
                    edgecolor="white",
                    label=row["model"],
                )
            buckets.set_xticks(np.arange(len(labels)) + 0.4 - width / 2, labels, fontsize=8)
            buckets.set_title(f"{dataset}: {METRIC} by drift of the user's recent categories")
            buckets.set_ylabel(METRIC)
            buckets.set_ylim(
                0, 1.35 * max(max(r["details"][f"{METRIC} by drift bucket"].values()) for r in with_buckets)
            )
            buckets.legend(fontsize=6, ncol=4, loc="upper left")
        else:
            buckets.axis("off")
    figure.tight_layout()
    save_figure(figure, path, dpi=110)
    return True
