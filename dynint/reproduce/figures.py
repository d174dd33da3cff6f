"""Figures drawn from a results table's JSON document: model comparisons as bar charts with the
seeds' std as error bars, the long-sequence curves over history length, and expert utilisation.

Each figure function takes the table document and the figure's path (`results/NAME.png`) and
returns False when the table holds nothing to draw, so `dynint reproduce` and `paper/build.py`
draw the same figure from the same numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dynint.plotting import pyplot_or_none, save_figure

Figure = Callable[[dict[str, Any], Path], bool]
PUBLISHED_SUFFIX = " (published)"


def model_bars(metrics: Sequence[str]) -> Figure:
    """A figure with one panel per (data set, metric) that some row reports: each row's mean over
    seeds as a bar, the seeds' std as its error bar, and the published rows (cited in the table)
    as hatched bars after them."""

    def draw(table: dict[str, Any], path: Path) -> bool:
        panels = _panels(table, metrics)
        plt = pyplot_or_none() if panels else None
        if plt is None:
            return False
        columns = min(len(panels), 2)
        lines = -(-len(panels) // columns)
        widest = max(len(bars) for _, _, bars in panels)
        figure, axes = plt.subplots(
            lines, columns, figsize=(max(4.0, 0.42 * widest + 1.5) * columns, 3.6 * lines), squeeze=False
        )
        for axis in axes.flat[len(panels) :]:
            axis.set_visible(False)
        for axis, (dataset, metric, bars) in zip(axes.flat, panels, strict=False):
            positions = range(len(bars))
            axis.bar(
                positions,
                [bar["mean"] for bar in bars],
                yerr=[bar["std"] for bar in bars],
                color=["white" if bar["published"] else f"C{i % 10}" for i, bar in enumerate(bars)],
                edgecolor=["0.3" if bar["published"] else f"C{i % 10}" for i, bar in enumerate(bars)],
                hatch=[("//" if bar["published"] else None) for bar in bars],
                width=0.7,
                capsize=3,
            )
            axis.set_xticks(list(positions), [bar["label"] for bar in bars], rotation=60, ha="right", fontsize=7)
            axis.set_xlim(-0.7, max(len(bars), 5) - 0.3)  # a panel with few bars keeps them narrow
            axis.set_title(f"{dataset}: {metric}", fontsize=9)
            axis.tick_params(axis="y", labelsize=7)
            axis.grid(axis="y", alpha=0.3)
        figure.suptitle(f"{table['table']} (test; mean over seeds, error bars one std; hatched: published)", fontsize=9)
        figure.tight_layout()
        save_figure(figure, path, dpi=120)
        return True

    return draw


def _panels(table: dict[str, Any], metrics: Sequence[str]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(data set, metric, bars) for every pair some row reports, in the table's order."""
    datasets = list(dict.fromkeys(row["dataset"] for row in table["rows"]))
    panels = []
    for dataset in datasets:
        for metric in metrics:
            bars = [
                {"label": row["model"], "mean": summary["mean"], "std": summary["std"], "published": False}
                for row in table["rows"]
                if row["dataset"] == dataset and (summary := row["metrics"].get(metric)) is not None
            ]
            bars += [
                {"label": published["model"] + PUBLISHED_SUFFIX, "mean": value, "std": 0.0, "published": True}
                for published in table.get("published_rows", [])
                if published["dataset"] == dataset and isinstance(value := published["metrics"].get(metric), float)
            ]
            if any(not bar["published"] for bar in bars):
                panels.append((dataset, metric, bars))
    return panels


_LENGTH = re.compile(r"^(?P<family>.+)-(?P<length>\d+)$")


def history_length_curves(metric: str) -> Figure:
    """`metric` against the history length for rows named FAMILY-LENGTH (sasrec-200, sasrec-500),
    one line per family and one panel per data set, error bars the seeds' std."""

    def draw(table: dict[str, Any], path: Path) -> bool:
        curves: dict[str, dict[str, list[tuple[int, float, float]]]] = {}
        for row in table["rows"]:
            named = _LENGTH.match(row["model"])
            summary = row["metrics"].get(metric)
            if named and summary is not None:
                points = curves.setdefault(row["dataset"], {}).setdefault(named["family"], [])
                points.append((int(named["length"]), summary["mean"], summary["std"]))
        plt = pyplot_or_none() if curves else None
        if plt is None:
            return False
        figure, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.4), squeeze=False)
        for axis, (dataset, families) in zip(axes[0], curves.items(), strict=True):
            for family, points in families.items():
                points.sort()
                axis.errorbar(
                    [p[0] for p in points],
                    [p[1] for p in points],
                    yerr=[p[2] for p in points],
                    marker="o",
                    capsize=3,
                    label=family,
                )
            axis.set_xlabel("history length (items kept)")
            axis.set_ylabel(f"{metric} (test)")
            axis.set_title(dataset, fontsize=9)
            axis.legend(fontsize=7)
            axis.grid(alpha=0.3)
        figure.tight_layout()
        save_figure(figure, path, dpi=120)
        return True

    return draw


def expert_utilisation(table: dict[str, Any], path: Path) -> bool:
    """One heat map per model with gates: each gate's mean weight per expert (rows: gates)."""
    models = [row for row in table["rows"] if row.get("expert_utilisation")]
    plt = pyplot_or_none() if models else None
    if plt is None:
        return False
    figure, axes = plt.subplots(
        1, len(models), figsize=(4.4 * len(models) + 1.0, 3.6), squeeze=False, layout="constrained"
    )
    for axis, row in zip(axes[0], models, strict=True):
        gates = row["expert_utilisation"]
        width = max(len(weights) for weights in gates.values())
        grid = [list(weights) + [float("nan")] * (width - len(weights)) for weights in gates.values()]
        image = axis.imshow(grid, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
        for y, weights in enumerate(grid):
            for x, weight in enumerate(weights):
                if weight == weight:  # not the padding of a gate with fewer experts
                    axis.text(x, y, f"{weight:.2f}", ha="center", va="center", fontsize=6, color="white")
        axis.set_yticks(range(len(gates)), list(gates), fontsize=7)
        axis.set_xticks(range(width), [str(i + 1) for i in range(width)], fontsize=7)
        axis.set_xlabel("expert")
        axis.set_title(f"{row['model']} ({row['dataset']})", fontsize=9)
    figure.colorbar(image, ax=list(axes[0]), shrink=0.8, label="mean gate weight (test)")
    save_figure(figure, path, dpi=120)
    return True


def several(*figures: tuple[str, Figure]) -> Figure:
    """Several figures for one table: each (suffix, figure) is drawn to NAME{suffix}.png beside the
    table's NAME.png; True when any was drawn."""

    def draw(table: dict[str, Any], path: Path) -> bool:
        drawn = [figure(table, path.with_name(f"{path.stem}{suffix}{path.suffix}")) for suffix, figure in figures]
        return any(drawn)

    return draw


def accuracy_against_budget(metric: str, series: Sequence[tuple[str, str]], references: Sequence[str]) -> Figure:
    """`metric` against each private row's spent epsilon (log axis), one line per `series`
    (label, row-name prefix: rows `PREFIX{epsilon}`), and the `references` rows (non-private
    ones) as horizontal lines; one panel per data set."""

    def draw(table: dict[str, Any], path: Path) -> bool:
        datasets = list(dict.fromkeys(row["dataset"] for row in table["rows"]))
        plt = pyplot_or_none() if datasets else None
        if plt is None:
            return False
        figure, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 3.8), squeeze=False)
        for axis, dataset in zip(axes[0], datasets, strict=True):
            rows = [row for row in table["rows"] if row["dataset"] == dataset and metric in row["metrics"]]
            for label, prefix in series:
                points = sorted(
                    (row["record_metrics"]["epsilon"]["mean"], row["metrics"][metric]["mean"])
                    for row in rows
                    if row["model"].startswith(prefix)
                    and np.isfinite(row.get("record_metrics", {}).get("epsilon", {}).get("mean", np.inf))
                )
                if points:
                    axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
            for index, name in enumerate(references):
                for row in rows:
                    if row["model"] == name:
                        axis.axhline(
                            row["metrics"][metric]["mean"], color=f"C{len(series) + index}", linestyle="--", label=name
                        )
            axis.set_xscale("log")
            spent = sorted(
                {
                    round(row["record_metrics"]["epsilon"]["mean"], 1)
                    for row in rows
                    if np.isfinite(row.get("record_metrics", {}).get("epsilon", {}).get("mean", np.inf))
                }
            )
            axis.set_xticks(spent, [f"{value:g}" for value in spent])
            if spent:  # a fixed span, so that budgets spent to within rounding do not spread across the panel
                axis.set_xlim(min(spent) / 1.5, max(spent) * 1.5)
            axis.minorticks_off()
            axis.set_xlabel("epsilon spent (delta 1 / users)")
            axis.set_ylabel(f"{metric} (test)")
            axis.set_title(dataset, fontsize=9)
            if axis.get_legend_handles_labels()[0]:  # a data set with no private row has no line to name
                axis.legend(fontsize=7)
            axis.grid(alpha=0.3)
        figure.tight_layout()
        save_figure(figure, path, dpi=120)
        return True

    return draw


_SIZED = re.compile(r"^(?P<family>.+)-(?P<width>\d+)x(?P<depth>\d+)$")


def scaling_curves(metric: str, size_key: str, flops_key: str) -> Figure:
    """`metric` against model size for rows named FAMILY-WIDTHxDEPTH: per data set, one panel over
    the record column `size_key` and one over `flops_key` (log axes), a line per family for test
    (solid) and validation (dashed), and on the size panel the least-squares trend of the test
    metric on log10(size) with its 90% confidence band."""

    def draw(table: dict[str, Any], path: Path) -> bool:
        curves: dict[str, dict[str, list[tuple[float, float, float, float]]]] = {}
        for row in table["rows"]:
            named = _SIZED.match(row["model"])
            record = row.get("record_metrics", {})
            if named is None or size_key not in record or metric not in row["metrics"]:
                continue
            flops = record.get(flops_key, {}).get("mean", float("nan"))
            test, valid = row["metrics"][metric]["mean"], row["valid_metrics"][metric]["mean"]
            point = (record[size_key]["mean"], flops, test, valid)
            curves.setdefault(row["dataset"], {}).setdefault(named["family"], []).append(point)
        plt = pyplot_or_none() if curves else None
        if plt is None:
            return False
        figure, axes = plt.subplots(len(curves), 2, figsize=(10.0, 3.6 * len(curves)), squeeze=False)
        for (size_axis, flops_axis), (dataset, families) in zip(axes, curves.items(), strict=True):
            for index, (family, points) in enumerate(families.items()):
                points.sort()
                sizes, flops, test, valid = (np.array(values) for values in zip(*points, strict=True))
                colour = f"C{index % 10}"
                for axis, x in ((size_axis, sizes), (flops_axis, flops)):
                    axis.plot(x, test, marker="o", color=colour, label=f"{family} (test)")
                    axis.plot(x, valid, marker="x", linestyle="--", color=colour, alpha=0.6, label=f"{family} (valid)")
                band = log_linear_trend(sizes, test)
                if band is not None:
                    grid, fitted, low, high = band
                    size_axis.plot(grid, fitted, color=colour, linewidth=0.8, alpha=0.8)
                    size_axis.fill_between(grid, low, high, color=colour, alpha=0.12)
            labels = ("non-embedding parameters", "training FLOPs to the chosen epoch")
            for axis, label in zip((size_axis, flops_axis), labels, strict=True):
                axis.set_xscale("log")
                axis.set_xlabel(label)
                axis.set_ylabel(metric)
                axis.set_title(dataset, fontsize=9)
                axis.grid(alpha=0.3)
            size_axis.legend(fontsize=7)
        title = f"{table['table']}: {metric} against size (band: 90% confidence of the log-linear trend)"
        figure.suptitle(title, fontsize=9)
        figure.tight_layout()
        save_figure(figure, path, dpi=120)
        return True

    return draw


def log_linear_trend(
    sizes: np.ndarray, values: np.ndarray, confidence: float = 0.9, points: int = 50
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The least-squares line of `values` on log10(`sizes`) over a grid spanning the sizes, with the
    `confidence` band of the fitted mean (Student's t); None with fewer than three sizes."""
    from scipy import stats

    if len(sizes) < 3:
        return None
    x = np.log10(sizes)
    slope, intercept = np.polyfit(x, values, 1)
    residual = values - (intercept + slope * x)
    dof = len(x) - 2
    scale = np.sqrt(residual @ residual / dof)
    grid = np.linspace(x.min(), x.max(), points)
    spread = scale * np.sqrt(1.0 / len(x) + (grid - x.mean()) ** 2 / ((x - x.mean()) ** 2).sum())
    margin = stats.t.ppf(0.5 + confidence / 2.0, dof) * spread
    fitted = intercept + slope * grid
    return 10.0**grid, fitted, fitted - margin, fitted + margin
