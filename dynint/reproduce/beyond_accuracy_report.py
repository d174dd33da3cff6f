"""The `beyond-accuracy` table's figure: accuracy against intra-list diversity, per data set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dynint.plotting import pyplot_or_none, save_figure

ACCURACY, DIVERSITY = "NDCG@10", "ILD@10"
MMR_PREFIX = "itemknn-mmr-"


def plot_table(table: dict[str, Any], path: Path) -> bool:
    """One panel per data set: each model as a point (mean over seeds, with the seeds' std as
    error bars), the MMR rows joined into ItemKNN's accuracy-diversity curve."""
    plt = pyplot_or_none()
    rows = [row for row in table["rows"] if ACCURACY in row["metrics"] and DIVERSITY in row["metrics"]]
    datasets = list(dict.fromkeys(row["dataset"] for row in rows))
    if plt is None or not datasets:
        return False
    figure, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.2), squeeze=False)
    for axis, dataset in zip(axes[0], datasets, strict=True):
        mine = [row for row in rows if row["dataset"] == dataset]
        curve = sorted(
            (row for row in mine if row["model"].startswith(MMR_PREFIX) or row["model"] == "itemknn"),
            key=lambda row: row["metrics"][DIVERSITY]["mean"],
        )
        if curve:
            axis.plot(
                [row["metrics"][DIVERSITY]["mean"] for row in curve],
                [row["metrics"][ACCURACY]["mean"] for row in curve],
                color="0.6",
                linestyle="--",
                zorder=1,
                label="ItemKNN + MMR (trade-off 1 to 0.3)",
            )
        for row in mine:
            diversity, accuracy = row["metrics"][DIVERSITY], row["metrics"][ACCURACY]
            axis.errorbar(
                diversity["mean"], accuracy["mean"], xerr=diversity["std"], yerr=accuracy["std"], fmt="o", zorder=2
            )
            label = row["model"].replace(MMR_PREFIX, "λ=")
            axis.annotate(
                label, (diversity["mean"], accuracy["mean"]), fontsize=7, xytext=(4, 3), textcoords="offset points"
            )
        axis.set_xlabel(f"{DIVERSITY} (intra-list diversity of genre / category bags)")
        axis.set_ylabel(f"{ACCURACY} (test)")
        axis.set_title(dataset)
        axis.legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    save_figure(figure, path, dpi=120)
    return True
