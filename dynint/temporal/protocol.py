"""Window-by-window evaluation: update the model with everything before a window, then rank each
of the window's events among the catalogue known by then.

A `StreamLearner` is the model side: `update(stream, window)` brings it up to date with the
events of the windows before `window` (how is its strategy's business: never again after the
first fit, a refit from scratch, an incremental update, a fine-tune) and says how many events it
processed; `scorer()` gives what ranks the window. Window 0 is only ever trained on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np

from dynint.eval.ranking import full_ranking_ranks
from dynint.eval.ranking_metrics import metric_names, ranking_metrics
from dynint.eval.scorer import Scorer
from dynint.temporal.windows import TemporalStream


class StreamLearner(Protocol):
    def update(self, stream: TemporalStream, window: int) -> int:
        """Learn from the events before `window`; returns how many events this update processed."""
        ...

    def scorer(self) -> Scorer:
        """What ranks `window`'s events after the last update."""
        ...


@dataclass(frozen=True)
class WindowResult:
    """One scored window: metrics over its events (and each `eval_set(window)` row's 0-based
    rank), and the update made just before it: its wall time and the CPU time this process spent
    on it (all its threads: other jobs on the machine stretch wall time far more than they move it)."""

    window: int
    rows: int
    new_items: int
    update_time_s: float
    update_examples: int
    metrics: dict[str, float]
    update_cpu_s: float = float("nan")
    ranks: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False, compare=False)

    def as_record(self) -> dict:
        record = asdict(self)
        del record["ranks"]
        return record


def evaluate_stream(
    stream: TemporalStream,
    learner: StreamLearner,
    ks: Sequence[int] = (10,),
    *,
    batch_size: int = 256,
    on_window: Callable[[WindowResult], None] | None = None,
    inspect: Callable[[int, Scorer], None] | None = None,
    first_window: int = 1,
) -> list[WindowResult]:
    """Score windows `first_window..K-1` in order, updating `learner` before each (seen items
    excluded, every row's target always ranked). `on_window` sees each result as it comes (to
    log it, or to checkpoint the stream), `inspect(window, scorer)` may query the model that
    scored the window (before the next update), and `first_window` resumes a stream part-way."""
    results = []
    for window in range(first_window, stream.num_windows):
        started, started_cpu = time.perf_counter(), time.process_time()
        examples = learner.update(stream, window)
        update_time, update_cpu = time.perf_counter() - started, time.process_time() - started_cpu
        eval_set = stream.eval_set(window)
        catalogue = stream.catalogue_size(window)
        scorer = learner.scorer()
        ranks = full_ranking_ranks(scorer, eval_set, catalogue, batch_size=batch_size, progress=False)
        result = WindowResult(
            window=window,
            rows=len(eval_set),
            new_items=catalogue - stream.catalogue_size(window - 1),
            update_time_s=update_time,
            update_examples=int(examples),
            metrics=ranking_metrics(ranks, ks, users=eval_set.users),
            update_cpu_s=update_cpu,
            ranks=np.asarray(ranks),
        )
        if inspect is not None:
            inspect(window, scorer)
        results.append(result)
        if on_window is not None:
            on_window(result)
    return results


def stream_metric_names(ks: Sequence[int]) -> list[str]:
    """The ranking metrics `stream_summary` reports: each metric's mean and area under its curve."""
    return [f"{aggregate} {name}" for name in metric_names(ks) for aggregate in ("mean", "AUC")]


def stream_summary(results: Sequence[WindowResult]) -> dict[str, float]:
    """Per metric: the mean over the scored windows and the area under its accuracy-over-time
    curve (trapezoids over the windows, time rescaled to [0, 1]; one window gives its value);
    the updates' total time and events, and the time of the updates after the first."""
    if not results:
        raise ValueError("no scored windows to summarise")
    summary: dict[str, float] = {}
    for name in results[0].metrics:
        values = np.array([r.metrics[name] for r in results])
        summary[f"mean {name}"] = float(values.mean())
        area = float(np.trapezoid(values) / (len(values) - 1)) if len(values) > 1 else float(values[0])
        summary[f"AUC {name}"] = area
    summary["update time (s)"] = float(sum(r.update_time_s for r in results))
    summary["update examples"] = float(sum(r.update_examples for r in results))
    # Without the first update, the fit on window 0 that every strategy makes alike.
    summary["later update time (s)"] = float(sum(r.update_time_s for r in results[1:]))
    summary["later update CPU time (s)"] = float(sum(r.update_cpu_s for r in results[1:]))
    return summary
