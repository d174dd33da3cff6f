"""A finished run, loaded for use: `load(RUN_DIR)` gives a `LoadedRun` that recommends items.

The run's resolved `config.yaml` is read back and its data set prepared again (the same
preprocessing, so the same id mapping). A next-item or CTR model is rebuilt and its tested
parameters restored: the refit model's last epoch where the run refit for test, else the best
validation epoch's; a CTR model then scores the catalogue as (history, item) pairs
(`dynint.serving.ctr_scoring`). A baseline is fitted again on the events visible at test (deterministic, and cheap
next to training). Histories are given and recommendations returned in the data set's raw ids.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from dynint.components import get_model_entry
from dynint.config.loader import load_config
from dynint.config.schema import ExperimentConfig
from dynint.data.prepared import PreparedData, prepare_data
from dynint.data.ragged import Ragged
from dynint.data.splits import EvalSet
from dynint.errors import ConfigError, DynintError
from dynint.eval.scorer import Scorer, score_candidates
from dynint.eval.top_k import top_k_lists

RESULT = "result.json"


class RunNotUsable(DynintError, ValueError):
    """The folder holds no finished run dynint can load (missing, unfinished, failed, other kind)."""


@dataclass(frozen=True)
class Recommendation:
    item: str  # the data set's raw item id
    score: float
    title: str | None = None


@dataclass
class LoadedRun:
    """A finished run's model with its data mapping; see the module notes."""

    run_dir: Path
    config: ExperimentConfig
    data: PreparedData
    scorer: Scorer

    @property
    def num_items(self) -> int:
        return self.data.split.num_items

    def recommend(self, history: Sequence[Any], k: int = 10, *, exclude_seen: bool = True) -> list[Recommendation]:
        """The `k` best items after `history` (raw item ids, oldest first), best first; with
        `exclude_seen`, items of the history are not recommended."""
        return self._recommend_rows([self._internal_items(history)], np.array([-1]), k, exclude_seen)[0]

    def recommend_user(self, user: Any, k: int = 10, *, exclude_seen: bool = True) -> list[Recommendation]:
        """The `k` best next items for the data set's user `user` (raw id), after all their events."""
        return self.recommend_users([user], k, exclude_seen=exclude_seen)[0]

    def recommend_users(
        self, users: Sequence[Any], k: int = 10, *, exclude_seen: bool = True
    ) -> list[list[Recommendation]]:
        indices = np.array([self.user_index(user) for user in users], dtype=np.int64)
        histories = [self.history_of(user) for user in users]
        return self._recommend_rows(histories, indices, k, exclude_seen)

    def history_of(self, user: Any) -> np.ndarray:
        """Internal item ids of every event of raw user `user`, oldest first."""
        return np.asarray(self.data.split.all_events[self.user_index(user)])

    def user_index(self, user: Any) -> int:
        """The internal index of raw user id `user`."""
        index = self._user_positions.get(str(user))
        if index is None:
            raise KeyError(f"user {user!r} is not in data set {self.config.data.name!r} of run {self.run_dir}")
        return index

    def item_index(self, item: Any) -> int:
        """The internal id of raw item id `item`."""
        index = self._item_positions.get(str(item))
        if index is None:
            raise KeyError(f"item {item!r} is not an item of data set {self.config.data.name!r}")
        return index

    @cached_property
    def _user_positions(self) -> dict[str, int]:
        return _positions(self.data.interactions.user_ids)

    @cached_property
    def _item_positions(self) -> dict[str, int]:
        positions = _positions(self.data.interactions.item_ids)
        positions = {raw: index for raw, index in positions.items() if index}  # 0: the padding token
        return positions

    def _internal_items(self, history: Sequence[Any]) -> np.ndarray:
        internal = []
        for position, item in enumerate(history):
            index = self._item_positions.get(str(item))
            if index is None:
                raise KeyError(
                    f"history item {item!r} (position {position}) is not an item of data set {self.config.data.name!r}"
                )
            internal.append(index)
        return np.asarray(internal, dtype=np.int64)

    def _recommend_rows(
        self, histories: list[np.ndarray], users: np.ndarray, k: int, exclude_seen: bool
    ) -> list[list[Recommendation]]:
        """Recommendations after each history; `users` their internal users (-1: none known)."""
        if not 1 <= k <= self.num_items:
            raise ValueError(f"k={k}: expected 1..{self.num_items} (the catalogue's size)")
        rows = Ragged.from_rows(histories)
        eval_set = EvalSet(users, np.ones(len(histories), dtype=np.int64), rows, np.zeros(len(histories)))
        lists = top_k_lists(self.scorer, eval_set, self.num_items, k, exclude_seen=exclude_seen, progress=False)
        scores = score_candidates(self.scorer, users, rows, lists)
        raw, titles = self.data.interactions.item_ids, self.item_titles()
        return [
            [
                Recommendation(str(raw[item]), float(score), titles[item] if titles else None)
                for item, score in zip(items, row_scores, strict=True)
            ]
            for items, row_scores in zip(lists, scores, strict=True)
        ]

    def item_titles(self) -> list[str] | None:
        """Each item's title (by internal id) where the data set has item text, else None."""
        features = self.data.interactions.item_features
        if features is None:
            return None
        for name in ("title", "name", "description"):
            if name in features.text:
                return features.text[name]
        return None


def load(run_dir: str | Path, data_dir: str | Path | None = None) -> LoadedRun:
    """The finished run in `run_dir`, ready to recommend (see the module notes)."""
    run_dir = Path(run_dir)
    config_path, result_path = run_dir / "config.yaml", run_dir / RESULT
    if not config_path.is_file():
        raise RunNotUsable(f"{run_dir}: no config.yaml; expected the folder of a dynint run")
    if not result_path.is_file():
        raise RunNotUsable(f"{run_dir}: no {RESULT}; the run has not finished (resume it with `dynint run --resume`)")
    result = json.loads(result_path.read_text())
    if result.get("status", "finished") != "finished":
        raise RunNotUsable(f"{run_dir}: the run {result.get('status')}; only a finished run can recommend")
    try:
        config = load_config(config_path)
    except ConfigError as error:
        raise RunNotUsable(f"{config_path}: this dynint cannot read the run's config ({error})") from None
    if config.temporal is not None:
        raise RunNotUsable(f"{run_dir}: a streaming (temporal) run keeps no single model to recommend with")
    data = prepare_data(config, data_dir)
    entry = get_model_entry(config.model.name)
    if entry.kind == "baseline":
        scorer = _fitted_baseline(config, entry, data)
    elif entry.kind == "neural":
        scorer = _restored_sequence_model(config, entry, data, run_dir, result)
    elif entry.kind == "ctr":
        scorer = _restored_ctr_model(config, entry, data, run_dir, result)
    else:
        raise RunNotUsable(
            f"{run_dir}: model {config.model.name!r} is a {entry.kind} model; recommend serves next-item models, "
            "CTR models and baselines"
        )
    return LoadedRun(run_dir, config, data, scorer)


def _positions(ids: np.ndarray) -> dict[str, int]:
    """Raw id (as text, so 42 finds '42') -> its first position in `ids`."""
    positions: dict[str, int] = {}
    for index, raw in enumerate(ids.astype(str)):
        positions.setdefault(raw, index)
    return positions


def _fitted_baseline(config: ExperimentConfig, entry: Any, data: PreparedData) -> Scorer:
    from baselines.base import FitData

    fit_data = FitData.for_stage(
        data.split, "test", data.interactions.item_features, leaky=config.split.fit_on_all_interactions
    )
    return entry.build(config.model).fit(fit_data)


def _restored_sequence_model(
    config: ExperimentConfig, entry: Any, data: PreparedData, run_dir: Path, result: dict
) -> Scorer:
    from dynint.train.item_content import build_item_content
    from dynint.train.scoring import SequenceScorer

    _needs_checkpoints(config, run_dir)
    content = build_item_content(config.model, data.interactions, progress=False)
    model = entry.build(
        config.model, data.split.num_items, config.train.max_length, rngs=nnx.Rngs(params=0), content=content
    )
    if getattr(model, "uses_event_times", False):
        raise RunNotUsable(
            f"{run_dir}: its model reads event times (model.time_buckets={config.model.time_buckets}), and serving "
            "does not take request times yet; serve a run trained with model.time_buckets=0"
        )
    objective = model.objective
    graphdef, params = _tested_parameters(model, config, run_dir, result)
    return SequenceScorer.for_training(graphdef, params, objective, config.train)


def _restored_ctr_model(
    config: ExperimentConfig, entry: Any, data: PreparedData, run_dir: Path, result: dict
) -> Scorer:
    from dynint.serving.ctr_scoring import CTRCatalogueScorer
    from dynint.train.ctr_experiment import build_ctr_run_data
    from dynint.train.item_content import build_item_content

    _needs_checkpoints(config, run_dir)
    ctr_data = build_ctr_run_data(config, data)  # the feature tokens and sizes the model was built with
    model = entry.build(
        config.model,
        ctr_data.num_items,
        config.train.max_length,
        ctr_data.feature_sizes,
        rngs=nnx.Rngs(params=0),
        content=build_item_content(config.model, data.interactions, progress=False),
    )
    graphdef, params = _tested_parameters(model, config, run_dir, result)
    return CTRCatalogueScorer(graphdef, params, ctr_data.item_tokens, config.train.max_length)


def _needs_checkpoints(config: ExperimentConfig, run_dir: Path) -> None:
    if not config.train.checkpoint:
        raise RunNotUsable(f"{run_dir}: the run kept no checkpoints (train.checkpoint=false); nothing to restore")


def _tested_parameters(model: nnx.Module, config: ExperimentConfig, run_dir: Path, result: dict) -> tuple[Any, Any]:
    """`model`'s graph and the parameters the run was tested with (host arrays): the refit's last
    epoch where it refit for test, else the best validation epoch's."""
    from dynint.train.checkpoint import CheckpointSlot
    from dynint.train.optim import make_optimizer
    from dynint.train.precision import set_compute_dtype
    from dynint.train.state import init_state, split_model

    train = config.train
    graphdef, params = split_model(set_compute_dtype(model, train.dtype))
    like = init_state(params, make_optimizer(train, 1), jax.random.key(0))
    root = train.checkpoint_directory(run_dir)
    refit_epochs = result.get("extra", {}).get("refit_epochs")
    slot_dir = root / "refit" / f"{refit_epochs}-epochs" / "best" if refit_epochs else root / "best"
    if not slot_dir.is_dir():
        raise RunNotUsable(f"{run_dir}: its tested parameters ({slot_dir}) are gone")
    slot = CheckpointSlot(slot_dir)
    try:
        restored = slot.restore(like)
    finally:
        slot.close()
    if restored is None:
        raise RunNotUsable(f"{slot_dir}: holds no checkpoint")
    state, _, _ = restored
    return graphdef, jax.tree.map(np.asarray, state.params)
