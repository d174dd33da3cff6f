"""Aggregate per-seed run metrics into table rows (mean, sample std, values)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def summarize_metric(values: Sequence[float]) -> dict[str, Any]:
    """Mean and sample standard deviation (ddof=1; 0 for a single seed) of one metric."""
    array = np.asarray(values, dtype=np.float64)
    std = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return {"mean": float(array.mean()), "std": std, "values": [float(v) for v in array]}


def summarize_runs(metric_names: Sequence[str], per_seed_metrics: Sequence[dict[str, float]]) -> dict[str, Any]:
    """Each metric's summary over the seeds; a metric the runs do not report (a task a multitask
    row does not train) is left out."""
    return {
        name: summarize_metric([m[name] for m in per_seed_metrics])
        for name in metric_names
        if all(name in m for m in per_seed_metrics)
    }
