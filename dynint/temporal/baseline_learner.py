"""Update strategies for baselines under the streaming protocol: `static` fits once on window 0,
`retrain` refits on every event so far before each window, and `incremental` updates a model
that has an `update(data)` (IncrementalItemKNN) with the new events instead of refitting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from baselines.base import Baseline, FitData
from dynint.data.ragged import Ragged
from dynint.errors import ConfigError
from dynint.eval.scorer import Scorer
from dynint.temporal.windows import TemporalStream

BaselineStrategy = Literal["static", "retrain", "incremental"]


class BaselineLearner:
    """A `StreamLearner` over a baseline built by `build()` (a fresh, unfitted model)."""

    def __init__(self, build: Callable[[], Baseline], strategy: BaselineStrategy):
        if strategy not in ("static", "retrain", "incremental"):
            raise ConfigError(
                f"temporal.strategy={strategy!r}: expected 'static', 'retrain' or 'incremental' for a baseline"
            )
        if strategy == "incremental":
            build = _incremental(build)
        self._build = build
        self.strategy = strategy
        self._model: Baseline | None = None
        self._fitted_events = 0

    def update(self, stream: TemporalStream, window: int) -> int:
        sequences, times = stream.visible_before(window)
        data = stream_fit_data(stream, sequences, times)
        processed = 0
        if self._model is None or self.strategy == "retrain":
            self._model = self._build().fit(data)
            processed = len(sequences.values)
        elif self.strategy == "incremental":
            self._model.update(data)
            processed = len(sequences.values) - self._fitted_events
        self._fitted_events = len(sequences.values) if processed else self._fitted_events
        read_history_times_through(self._model, stream, window)
        return processed

    def scorer(self) -> Scorer:
        if self._model is None:
            raise RuntimeError("score after the first update")
        return self._model


def stream_fit_data(stream: TemporalStream, sequences: Ragged, times: Ragged) -> FitData:
    """What a baseline fits on: `sequences` (and their `times`) of the stream's users. Every item id
    is known from the start (existence, not interactions): the ranking itself restricts candidates
    to the window's catalogue, and new items score as the model says."""
    interactions = stream.interactions
    return FitData(sequences, stream.num_users, interactions.num_items, interactions.item_features, times)


def read_history_times_through(model: Baseline, stream: TemporalStream, window: int) -> None:
    """Let `model` read the times of history events up to the end of `window` (time recency of the
    histories it ranks from; never fitted on)."""
    through_window, through_times = stream.visible_before_end_of(window)
    model.read_history_times_from(stream_fit_data(stream, through_window, through_times))


def _incremental(build: Callable[[], Baseline]) -> Callable[[], Baseline]:
    """A builder of models with `update(data)`: `build`'s own, or their `incremental()` counterpart."""
    model = build()
    if callable(getattr(model, "update", None)):
        return build
    if callable(getattr(model, "incremental", None)):
        return lambda: build().incremental()
    raise ConfigError(
        f"temporal.strategy='incremental': {type(model).__name__} has no incremental update; "
        "use 'retrain' or 'static' (ItemKNN updates incrementally)"
    )
