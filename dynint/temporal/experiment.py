"""One model through the streaming protocol: the run a config with a `temporal` section makes.

The log is cut into windows (`temporal_stream`); a learner for the model (a baseline's
`BaselineLearner`, a next-item model's `NeuralLearner`) is updated before each window and ranks
its events. The run reports, as its `test` metrics, the mean and area under the curve of every
ranking metric over the windows and the updates' cost, and as its `valid` metrics those of
window 0's held-out latest events (where a neural model's epochs are chosen). Its record holds
each window, the metrics by interest-drift quantile (when items have categories) and, on the
synthetic data, how many events the model's top 10 takes to follow a user's switch of interest.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from dynint.components import get_model_entry
from dynint.config.schema import ExperimentConfig
from dynint.data.interactions import Interactions
from dynint.errors import ConfigError
from dynint.eval.ranking import evaluate_ranking
from dynint.eval.scorer import Scorer
from dynint.io import append_jsonl
from dynint.temporal import drift as drift_analysis
from dynint.temporal import switch_lag
from dynint.temporal.baseline_learner import BaselineLearner, read_history_times_through, stream_fit_data
from dynint.temporal.protocol import WindowResult, evaluate_stream, stream_summary
from dynint.temporal.windows import TemporalStream, temporal_stream

METRICS_LOG = "metrics.jsonl"
DRIFT_BUCKETS = 4
DRIFT_RECENT_EVENTS = 10
SWITCH_HORIZON = 5


def run_stream(
    config: ExperimentConfig, interactions: Interactions, run_dir: Path, *, progress: bool = True
) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """The validation and stream metrics of `config.model` under `config.temporal`, and its record."""
    temporal = config.temporal
    if temporal is None:
        raise ConfigError("temporal: the streaming protocol needs a `temporal` section")
    if config.eval.kind != "full":
        raise ConfigError(f"eval.kind={config.eval.kind!r}: the streaming protocol ranks every window in full ('full')")
    stream = temporal_stream(interactions, temporal)
    entry = get_model_entry(config.model.name)
    learner, validation = _learner(config, entry, stream, run_dir, progress)
    switches = _switches(config, interactions, stream)
    events, switch, _ = switches.rows() if switches is not None else (np.zeros(0, np.int64),) * 3
    shares = np.zeros(len(events))

    def inspect(window: int, scorer: Scorer) -> None:
        if switches is None:
            return
        here = np.flatnonzero(stream.window[events] == window)
        shares[here] = switch_lag.top_k_share(
            scorer,
            stream,
            events[here],
            switches.cluster[switch[here]],
            switches.item_cluster,
            stream.catalogue_size(window),
        )

    started = time.perf_counter()

    def on_window(result: WindowResult) -> None:
        append_jsonl(run_dir / METRICS_LOG, {"stage": "window", **result.as_record()})
        if progress:
            done = result.window
            eta = (time.perf_counter() - started) / done * (stream.num_windows - 1 - done)
            ndcg = result.metrics.get("NDCG@10", next(iter(result.metrics.values())))
            print(
                f"window {result.window}/{stream.num_windows - 1}: {result.rows} rows, NDCG@10 {ndcg:.4f}, "
                f"update {result.update_time_s:.1f} s ({result.update_examples} examples), ETA {eta:.0f} s",
                file=sys.stderr,
            )

    results = evaluate_stream(
        stream, learner, config.eval.ks, batch_size=config.eval.batch_size, on_window=on_window, inspect=inspect
    )
    if not validation:
        validation = getattr(learner, "validation", {})
    summary = stream_summary(results)
    extra: dict[str, Any] = {
        "windows": [result.as_record() for result in results],
        "stream": {
            "num_windows": stream.num_windows,
            "window_starts": [float(t) for t in stream.starts],
            "catalogue": [stream.catalogue_size(t) for t in range(stream.num_windows)],
        },
        **{
            key: summary[key]
            for key in ("update time (s)", "later update time (s)", "later update CPU time (s)", "update examples")
        },
    }
    if getattr(learner, "epochs", None) is not None:
        extra["epochs"] = learner.epochs
    buckets = _drift_buckets(config, stream, results)
    if buckets is not None:
        extra["drift_buckets"] = buckets
    if switches is not None:
        extra["switch_lag"] = switch_lag.lag_summary(switches, switch_lag.lags(switches, shares))
        extra["switch lag (events)"] = extra["switch_lag"].get("mean lag per user", float("nan"))
    metrics = {"valid": validation, "test": summary}
    for stage in ("valid", "test"):
        append_jsonl(run_dir / METRICS_LOG, {"stage": stage, **metrics[stage]})
    return metrics, extra


def _learner(
    config: ExperimentConfig, entry: Any, stream: TemporalStream, run_dir: Path, progress: bool
) -> tuple[Any, dict[str, float]]:
    """The model's learner, and (for baselines, computed here) its window-0 validation metrics."""
    temporal = config.temporal
    if entry.kind == "baseline":
        learner = BaselineLearner(lambda: entry.build(config.model), temporal.strategy)
        return learner, _baseline_validation(config, entry, stream)
    if entry.kind == "neural":
        from dynint.temporal.neural_learner import NeuralLearner  # jax/flax only for neural runs

        return NeuralLearner(config, temporal, stream, run_dir, progress=progress), {}
    raise ConfigError(
        f"model.name={config.model.name!r}: the streaming protocol runs baselines and next-item models; "
        f"this is a {entry.kind} model"
    )


def _baseline_validation(config: ExperimentConfig, entry: Any, stream: TemporalStream) -> dict[str, float]:
    """A baseline fitted on window 0 before its held-out latest events, ranking them."""
    sequences, times, valid = stream.window_0_validation(config.temporal.valid_fraction)
    catalogue = stream.catalogue_size(0)
    model = entry.build(config.model).fit(stream_fit_data(stream, sequences, times))
    read_history_times_through(model, stream, 0)
    return evaluate_ranking(model, valid, catalogue, config.eval, progress=False)


def _switches(config: ExperimentConfig, interactions: Interactions, stream: TemporalStream):
    """The switches followed on the synthetic data (None elsewhere)."""
    if config.data.name != "synthetic":
        return None
    from dynint.data.synthetic import generate_drifting_interactions

    _, truth = generate_drifting_interactions(config.data.synthetic)
    return switch_lag.stream_switches(stream, interactions, truth, horizon=SWITCH_HORIZON)


def _drift_buckets(
    config: ExperimentConfig, stream: TemporalStream, results: list[WindowResult]
) -> dict[str, Any] | None:
    """Metrics over all scored rows by quantile of their history's category drift (None when the
    items carry no category feature)."""
    try:
        weights = drift_analysis.item_category_weights(stream.interactions)
    except ConfigError:
        return None
    eval_sets = [stream.eval_set(result.window) for result in results]
    scores = np.concatenate(
        [drift_analysis.history_drift(rows.histories, weights, DRIFT_RECENT_EVENTS) for rows in eval_sets]
    )
    ranks = np.concatenate([result.ranks for result in results])
    users = np.concatenate([rows.users for rows in eval_sets])
    edges = drift_analysis.drift_edges(scores, DRIFT_BUCKETS)
    labels = drift_analysis.bucket_labels(edges)
    buckets = drift_analysis.bucket_of(scores, edges)
    return {
        "recent_events": DRIFT_RECENT_EVENTS,
        "edges": [float(e) for e in edges],
        "metrics": drift_analysis.metrics_by_bucket(ranks, users, buckets, labels, config.eval.ks),
    }
