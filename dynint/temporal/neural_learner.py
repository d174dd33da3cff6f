"""Update strategies for next-item models (SASRec, GRU4Rec, BERT4Rec, ...) under the streaming
protocol, trained by dynint's own loop.

Window 0 first chooses the number of epochs E by early stopping on its latest events
(`temporal.valid_fraction`), then a model is trained from scratch on all of window 0 for E
epochs (as `train.refit_for_test` does on a static split). Before each later window `t`:
`static` changes nothing, `retrain` trains from scratch on every event before `t` for E epochs,
and `finetune` continues the previous parameters for `temporal.finetune_epochs` passes over
window `t - 1`'s events (each predicted from the user's whole history), plus replayed older
sequences. The item table holds the items trained on, in blocks of `temporal.item_capacity_step`
rows (the rows past the catalogue reserved: masked out of the loss, so they keep their initial
values); before a window is scored the model takes that window's catalogue
(`growth.grow_item_rows`: a reserved row becomes the new item's, or the table grows by a block),
the new rows freshly initialised (an id model ranks a new item from its initial vector, a text
model from the item's text). Every fit of the stream batches with the shapes of its first fit,
so with reserved rows the compiled train step is reused from window to window. Each fit keeps
its checkpoints in `window<t>/` of the run folder, so a stream run with `train.resume` continues
where it was interrupted.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from dynint.components import get_model_entry
from dynint.config.schema import ExperimentConfig
from dynint.data.ragged import Ragged
from dynint.distributed.runtime import host_copy
from dynint.errors import ConfigError
from dynint.eval.ranking import evaluate_ranking
from dynint.models.base import NextItemObjective
from dynint.models.item_representation import ItemContent
from dynint.temporal.config import TemporalConfig
from dynint.temporal.growth import grow_item_rows, item_capacity
from dynint.temporal.windows import TemporalStream
from dynint.train import sharding
from dynint.train.batching import BatchShapes, SequenceBatcher
from dynint.train.compilation import enable_compilation_cache
from dynint.train.experiment import check_early_stopping_metric, data_parallel_mesh, run_key, run_signature
from dynint.train.item_content import build_item_content
from dynint.train.loop import FitResult, fit
from dynint.train.optim import make_optimizer
from dynint.train.precision import set_compute_dtype
from dynint.train.scoring import SequenceScorer
from dynint.train.state import split_model
from dynint.train.step import sequence_loss_fn

NEURAL_STRATEGIES = ("static", "retrain", "finetune")


class NeuralLearner:
    """A `StreamLearner` over `config.model` (a registered next-item model) on `stream`."""

    def __init__(
        self,
        config: ExperimentConfig,
        temporal: TemporalConfig,
        stream: TemporalStream,
        run_dir: Path,
        *,
        progress=True,
    ):
        if temporal.strategy not in NEURAL_STRATEGIES:
            raise ConfigError(
                f"temporal.strategy={temporal.strategy!r}: expected one of {', '.join(NEURAL_STRATEGIES)} "
                f"for the neural model {config.model.name!r}"
            )
        entry = get_model_entry(config.model.name)
        if entry.kind != "neural":
            raise ConfigError(
                f"model.name={config.model.name!r}: the stream trains next-item models; this is {entry.kind}"
            )
        check_early_stopping_metric(config)
        enable_compilation_cache()
        self.config, self.temporal, self.run_dir, self.progress = config, temporal, Path(run_dir), progress
        self._entry = entry
        self._content = build_item_content(config.model, stream.interactions, progress=progress)
        self._mesh, self._devices = data_parallel_mesh(config.train)
        self.epochs: int | None = None  # chosen on window 0
        self.validation: dict[str, float] = {}  # window 0's validation metrics at that epoch
        self._params: Any = None  # for the catalogue of the last window scored
        self._graphdef: Any = None
        self._objective: NextItemObjective | None = None
        self._scored_items = 0  # the catalogue of the last window scored
        self._shapes: BatchShapes | None = None  # of the stream's first batches, kept for every later fit
        self._opt_state: Any = None  # the last fit's, continued by the next (`carry_optimizer_state`)
        self._trained_until = -np.inf  # events before this time have been training targets
        self._losses: dict[Any, Any] = {}  # one loss function per model structure, so fits share a compiled step

    def update(self, stream: TemporalStream, window: int) -> int:
        trained_items = stream.catalogue_size(window - 1)
        examples = 0
        if self._params is None:
            examples += self._choose_epochs(stream)
        if self._params is None or self.temporal.strategy == "retrain":
            graphdef, params = self._build(trained_items, window=0)
            sequences, _ = stream.visible_before(window)
            batcher = self._batcher(sequences, trained_items)
            result = self._fit(window, graphdef, params, batcher, self.epochs, None)
            examples += _examples(result)
            params = result.best_params
            self._opt_state = result.final_opt_state if self.temporal.carry_optimizer_state else None
            self._trained_until = float(stream.starts[window])
        elif self.temporal.strategy == "finetune":
            result = self._finetune(stream, window, trained_items)
            examples += _examples(result)
            params = result.best_params
            self._opt_state = result.final_opt_state if self.temporal.carry_optimizer_state else None
        else:
            params = self._params
        self._scored_items = stream.catalogue_size(window)
        self._graphdef, self._params = self._grown(params, self._scored_items, window)
        return examples

    def scorer(self) -> SequenceScorer:
        if self._params is None:
            raise RuntimeError("score after the first update")
        return self._scorer(self._graphdef, self._params, self._scored_items)

    def _scorer(self, graphdef: Any, params: Any, num_items: int) -> SequenceScorer:
        train = self.config.train
        return SequenceScorer.for_training(graphdef, params, self._objective, train, num_items=num_items)

    def _choose_epochs(self, stream: TemporalStream) -> int:
        """Early stopping on window 0's latest events sets `epochs`; returns the examples trained on."""
        train_sequences, _, valid = stream.window_0_validation(self.temporal.valid_fraction)
        num_items = stream.catalogue_size(0)
        graphdef, params = self._build(num_items, window=0)
        train = self.config.train

        def validate(params: Any) -> dict[str, float]:
            scorer = self._scorer(graphdef, host_copy(params), num_items)
            return evaluate_ranking(scorer, valid, num_items, self.config.eval, progress=False)

        batcher = self._batcher(train_sequences, num_items)
        result = self._fit(0, graphdef, params, batcher, train.max_epochs, validate)
        self.epochs = result.progress.best_epoch
        best = [entry for entry in result.progress.history if entry.get("epoch") == self.epochs and "valid" in entry]
        self.validation = dict(best[-1]["valid"]) if best else {}
        return _examples(result)

    def _finetune(self, stream: TemporalStream, window: int, trained_items: int) -> FitResult:
        """The previous parameters trained on the events since the last fit (and replayed older
        sequences): `finetune_epochs` passes, or with `finetune_patience` early stopping on the
        latest `valid_fraction` of window `window - 1`, held out from this fit's targets."""
        patience = self.temporal.finetune_patience
        validate = None
        cut = float(stream.starts[window])
        if patience:
            cut, valid = stream.latest_events(window - 1, self.temporal.valid_fraction)
            graphdef = self._graphdef

            def validate(params: Any) -> dict[str, float]:
                scorer = self._scorer(graphdef, host_copy(params), trained_items)
                return evaluate_ranking(scorer, valid, trained_items, self.config.eval, progress=False)

        sequences, loss_from = self._new_and_replayed(stream, window, cut)
        batcher = self._batcher(sequences, trained_items, loss_from)
        result = self._fit(
            window,
            self._graphdef,
            self._params,
            batcher,
            self.temporal.finetune_epochs,
            validate,
            opt_state=self._opt_state,
            patience=patience,
        )
        self._trained_until = cut
        return result

    def _new_and_replayed(self, stream: TemporalStream, window: int, cut: float) -> tuple[Ragged, np.ndarray]:
        """The sequences before `cut` of the users with events since the last fit, their loss on
        those events only, and a `replay_fraction` share of other users' sequences, their loss on
        every event."""
        sequences, _ = stream.events_between(-np.inf, cut)
        new_counts = stream.events_between(self._trained_until, cut)[0].lengths
        new_users = np.flatnonzero(new_counts > 0)
        others = np.flatnonzero((new_counts == 0) & (sequences.lengths >= 2))
        wanted = min(len(others), round(self.temporal.replay_fraction * len(new_users)))
        replayed = np.sort(np.random.default_rng([self.config.seed, window]).choice(others, wanted, replace=False))
        users = np.concatenate([new_users, replayed])
        loss_from = np.concatenate([(sequences.lengths - new_counts)[new_users], np.zeros(len(replayed), np.int64)])
        return sequences.take(users), loss_from

    def _build(self, num_items: int, *, window: int) -> tuple[Any, Any]:
        """A fresh model for items `1..num_items` (its table allocated to `item_capacity`, the
        reserved rows without content): initial parameters from the seed (and, for the rows of
        items added before `window`, from the window too)."""
        key = run_key(self.config.seed, 0)
        if window:
            key = jax.random.fold_in(key, window)
        capacity = item_capacity(num_items, self.temporal.item_capacity_step)
        model = self._entry.build(
            sharding.model_for_mesh(self.config.model, self.config.train.model_parallelism),
            capacity,
            self.config.train.max_length,
            rngs=nnx.Rngs(params=key),
            content=_content_prefix(self._content, num_items, capacity),
        )
        if not isinstance(model.objective, NextItemObjective):
            raise ConfigError(
                f"model.name={self.config.model.name!r}: the stream grows item tables of next-item models; a cloze "
                "model's mask token sits after the last item"
            )
        if getattr(model, "uses_event_times", False):
            raise ConfigError(
                "model.time_buckets > 0: the streaming protocol does not pass event times to models yet; "
                "set model.time_buckets=0 (the relative-position bias alone)"
            )
        self._objective = model.objective
        return split_model(set_compute_dtype(model, self.config.train.dtype))

    def _grown(self, params: Any, num_items: int, window: int) -> tuple[Any, Any]:
        """The model for items `1..num_items`; a carried optimizer state grows beside it (zero
        moments for new rows)."""
        graphdef, fresh = self._build(num_items, window=window)
        if self._opt_state is not None:
            zeros = make_optimizer(self.config.train, 1).init(fresh)
            self._opt_state = grow_item_rows(self._opt_state, zeros)
        return graphdef, grow_item_rows(params, fresh)

    def _batcher(self, sequences: Ragged, num_items: int, loss_from: np.ndarray | None = None) -> SequenceBatcher:
        """Batches whose loss ranges over items `1..num_items`, in the stream's first batch shapes."""
        reserved = item_capacity(num_items, self.temporal.item_capacity_step) > num_items
        batcher = SequenceBatcher.for_training(
            sequences,
            self._objective,
            self.config.train,
            alignment=self._devices,
            loss_from=loss_from,
            shapes=self._shapes,
            catalogue_size=num_items if reserved else None,
        )
        self._shapes = batcher.shapes
        return batcher

    def _loss(self, graphdef: Any) -> Any:
        """The loss of models of `graphdef`'s structure: the same function object for every fit of
        the stream, so each reuses the train step the first compiled (`dynint.train.step_reuse`)."""
        if graphdef not in self._losses:
            self._losses[graphdef] = sequence_loss_fn(graphdef, self.config.model)
        return self._losses[graphdef]

    def _fit(
        self,
        window: int,
        graphdef: Any,
        params: Any,
        batches: SequenceBatcher,
        epochs: int,
        validate,
        opt_state: Any = None,
        patience: int = 0,
    ) -> FitResult:
        folder = self.run_dir / f"window{window:02d}"
        train = replace(
            self.config.train,
            max_epochs=epochs,
            patience=patience or self.config.train.patience,
            checkpoint_dir=str(self.config.train.checkpoint_directory(self.run_dir) / f"window{window:02d}"),
        )
        signature = {**run_signature(self.config), "temporal": asdict(self.temporal), "window": window}
        return fit(
            train=train,
            seed=self.config.seed,
            key=jax.random.fold_in(run_key(self.config.seed, 1), window),
            params=params,
            loss=self._loss(graphdef),
            batches=batches,
            mesh=self._mesh,
            validate=validate,
            run_dir=folder,
            progress=self.progress,
            signature=signature,
            opt_state=opt_state,
        )


def _examples(result: FitResult) -> int:
    """Training examples (predicted positions) the fit processed, over all its epochs."""
    return int(sum(entry["examples"] for entry in result.progress.history))


def _content_prefix(content: ItemContent | None, num_items: int, capacity: int) -> ItemContent | None:
    """The content of items `0..num_items` (the catalogue so far), with zero rows for the
    reserved items `num_items + 1..capacity`."""
    if content is None:
        return None

    def prefix(rows: np.ndarray | None) -> np.ndarray | None:
        if rows is None:
            return None
        padded = np.zeros((capacity + 1, *rows.shape[1:]), rows.dtype)
        padded[: num_items + 1] = rows[: num_items + 1]
        return padded

    return ItemContent(
        text=prefix(content.text),
        attributes=prefix(content.attributes),
        attribute_vocab_size=content.attribute_vocab_size,
    )
