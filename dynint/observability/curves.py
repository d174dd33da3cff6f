"""Training curves as figures: one run's `curves.png`, and several runs side by side
(`dynint runs compare`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dynint.plotting import pyplot_or_none, save_figure

METRICS_LOG = "metrics.jsonl"


def epoch_entries(run_dir: str | Path) -> list[dict[str, Any]]:
    """The per-epoch entries of a run's `metrics.jsonl` (the test line left out)."""
    path = Path(run_dir) / METRICS_LOG
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: no {METRICS_LOG}; expected the folder of a dynint run")
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [entry for entry in entries if "epoch" in entry and "stage" not in entry]


def plot_runs(runs: dict[str, list[dict[str, Any]]], metric: str, path: str | Path) -> bool:
    """Training loss and validation `metric` per epoch of each run (label -> entries), in one PNG."""
    plt = pyplot_or_none()
    if plt is None or not runs:
        return False
    figure, (loss_axis, metric_axis) = plt.subplots(1, 2, figsize=(11, 3.8))
    for label, entries in runs.items():
        epochs = [entry["epoch"] for entry in entries]
        loss_axis.plot(epochs, [entry.get("train_loss", float("nan")) for entry in entries], label=label)
        values = [(entry.get("valid") or {}).get(metric, float("nan")) for entry in entries]
        metric_axis.plot(epochs, values, marker="o", markersize=2, label=label)
    loss_axis.set_title("training loss")
    metric_axis.set_title(f"validation {metric}")
    for axis in (loss_axis, metric_axis):
        axis.set_xlabel("epoch")
        axis.legend(fontsize=7)
    figure.tight_layout()
    path = Path(path)
    save_figure(figure, path, dpi=110)
    return True


def best_epoch(entries: list[dict[str, Any]], metric: str) -> tuple[int, float] | None:
    """The epoch with the highest validation `metric` (the first of equals) and its value."""
    scored = [(entry["epoch"], (entry.get("valid") or {}).get(metric)) for entry in entries]
    scored = [(epoch, value) for epoch, value in scored if value is not None]
    if not scored:
        return None
    return max(scored, key=lambda pair: (pair[1], -pair[0]))
