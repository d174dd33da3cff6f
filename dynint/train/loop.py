"""The training loop: epochs of train steps, validation after each, early stopping, checkpoints, logs.

The loop knows nothing of the model, its batches or the evaluation protocol: it trains `params`
on a `LossFn` over `EpochBatches` with the step `make_train_step` compiles, and asks
`validate(params)` for the metrics of an epoch. Sequence models and CTR models share it.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import jax
import numpy as np
from jax.sharding import Mesh
from tqdm.auto import tqdm

from dynint.errors import ConfigError
from dynint.io import append_jsonl, write_text_atomic
from dynint.train import sharding
from dynint.train.checkpoint import Checkpoints
from dynint.train.config import TrainConfig
from dynint.train.optim import make_optimizer
from dynint.train.state import TrainState, init_state
from dynint.train.step import LossFn, make_train_step

METRICS_LOG = "metrics.jsonl"


@dataclass
class LoopProgress:
    """What the loop has done so far; saved with every checkpoint, so a resumed run continues
    exactly where the interrupted one stopped. `history` holds one record per finished epoch."""

    epoch: int = 0
    best_epoch: int = 0
    best_value: float = -math.inf
    bad_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    signature: dict[str, Any] = field(default_factory=dict)

    def record(self, epoch: int, value: float, entry: dict[str, Any]) -> bool:
        """Add an epoch's log entry; returns whether `value` beats every earlier epoch."""
        self.epoch = epoch
        self.history.append(entry)
        improved = value > self.best_value
        if improved:
            self.best_epoch, self.best_value, self.bad_epochs = epoch, value, 0
        else:
            self.bad_epochs += 1
        return improved

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["best_value"] = None if math.isinf(self.best_value) else self.best_value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoopProgress:
        best = data["best_value"]
        return cls(**{**data, "best_value": -math.inf if best is None else best})


@dataclass(frozen=True)
class FitResult:
    """The parameters of the best validation epoch and the loop's record."""

    best_params: Any
    progress: LoopProgress


class EpochBatches(Protocol):
    """The training batches of every epoch, a pure function of `(seed, epoch)` (see `SequenceBatcher`)."""

    def num_batches(self, seed: int, epoch: int) -> int: ...

    def epoch(self, seed: int, epoch: int) -> list[Any]: ...

    def examples(self, batch: Any) -> float:
        """How many training examples (predicted positions, samples) `batch` holds."""
        ...


def fit(
    *,
    train: TrainConfig,
    seed: int,
    key: jax.Array,
    params: Any,
    loss: LossFn,
    batches: EpochBatches,
    mesh: Mesh,
    validate: Callable[[Any], dict[str, float]] | None,
    run_dir: Path,
    progress: bool = True,
    signature: dict[str, Any] | None = None,
    on_epoch_end: Callable[[int], None] | None = None,
) -> FitResult:
    """Train `params` on `loss` for up to `train.max_epochs` epochs of `batches` (data order from
    `seed`, step randomness from `key`, batches split over `mesh`), stopping after
    `train.patience` epochs without a better `train.early_stopping_metric` on validation. With
    `validate=None` there is no validation: all `train.max_epochs` epochs run and the last one
    is kept. With `train.resume`, continue from the latest checkpoint (a finished run is not
    trained further); `signature` (the settings that define the run) must then equal the one
    the checkpoint was saved with, but for `train.patience` (see `_check_patience`)."""
    steps_per_epoch = batches.num_batches(seed, 1)
    optimizer = make_optimizer(train, steps_per_epoch * train.max_epochs)
    state = init_state(params, optimizer, key)
    shardings = sharding.state_shardings(mesh, state)
    state = jax.device_put(state, shardings)
    step = make_train_step(loss, optimizer, mesh, shardings)

    checkpoint_dir = train.checkpoint_directory(run_dir)
    if train.checkpoint and not train.resume:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)  # a fresh run replaces an earlier run's checkpoints
    checkpoints = Checkpoints(checkpoint_dir) if train.checkpoint else None
    loop = LoopProgress(signature=signature or {})
    best_params = None
    if train.resume:
        if checkpoints is None:
            raise ConfigError("train.resume=true needs train.checkpoint=true")
        state, loop, best_params = _resume(checkpoints, state, loop)
        if validate is not None:
            _check_patience(train, loop)
    write_text_atomic(run_dir / METRICS_LOG, "".join(json.dumps(entry) + "\n" for entry in loop.history))

    show = progress and sys.stderr.isatty()
    for epoch in range(loop.epoch + 1, train.max_epochs + 1):
        if loop.bad_epochs >= train.patience:
            break
        state, entry = _train_epoch(state, step, batches, batches.epoch(seed, epoch), epoch, train.max_epochs, show)
        started = time.perf_counter()
        metrics = validate(state.params) if validate is not None else {}
        entry["valid_time_s"] = time.perf_counter() - started
        entry["valid"] = metrics
        # Without validation every epoch counts as the best so far, so the last one is kept.
        value = metrics[train.early_stopping_metric] if validate is not None else float(epoch)
        if loop.record(epoch, value, entry):
            best_params = jax.tree.map(np.array, state.params)  # a host copy: the state is donated next step
            if checkpoints is not None:
                checkpoints.best.save(epoch, state, loop.to_json())
        if checkpoints is not None:
            checkpoints.latest.save(epoch, state, loop.to_json())
        append_jsonl(run_dir / METRICS_LOG, entry)
        if progress:  # one line per epoch, also when stderr is a log file rather than a terminal
            tqdm.write(_summary(entry, train.early_stopping_metric, loop, train.max_epochs), file=sys.stderr)
        if on_epoch_end is not None:
            on_epoch_end(epoch)
    if checkpoints is not None:
        checkpoints.close()
    if best_params is None:
        raise RuntimeError("training ran no epoch, so there is no best checkpoint to evaluate")
    return FitResult(best_params, loop)


def stopping_epoch(values: list[float], patience: int) -> int | None:
    """The epoch (from 1) after which early stopping with `patience` ends a run whose epochs
    scored `values` on validation; None if it would train past them."""
    replay = LoopProgress()
    for epoch, value in enumerate(values, 1):
        replay.record(epoch, value, {})
        if replay.bad_epochs >= patience:
            return epoch
    return None


def _check_patience(train: TrainConfig, loop: LoopProgress) -> None:
    """A resumed run may change `train.patience` only where the run it continues would have
    trained to the same epoch with the new value (growing it always can)."""
    values = [entry["valid"][train.early_stopping_metric] for entry in loop.history]
    stop = stopping_epoch(values, train.patience)
    if stop is not None and stop < loop.epoch:
        raise ConfigError(
            f"cannot resume with train.patience={train.patience}: the checkpoint's run went that many epochs "
            f"without a better {train.early_stopping_metric} at epoch {stop} but trained on to epoch {loop.epoch}; "
            f"start afresh, or resume with a patience above {train.patience}"
        )


def _run_identity(signature: dict[str, Any]) -> dict[str, Any]:
    """`signature` without `train.patience`, which only decides when to stop and is checked on
    its own (`_check_patience`), so a run may be resumed with another one."""
    train = signature.get("train")
    if not isinstance(train, dict):
        return signature
    return {**signature, "train": {k: v for k, v in train.items() if k != "patience"}}


def _resume(checkpoints: Checkpoints, state: TrainState, fresh: LoopProgress) -> tuple[TrainState, LoopProgress, Any]:
    """The latest checkpoint's state and progress, and the best epoch's parameters (as `fresh`
    and None when nothing was saved yet)."""
    restored = checkpoints.latest.restore(state)
    if restored is None:
        return state, fresh, None
    state, saved = restored
    signature, expected = _run_identity(saved["signature"]), _run_identity(fresh.signature)
    if signature != expected:
        keys = {**signature, **expected}
        changed = sorted(k for k in keys if signature.get(k) != expected.get(k))
        raise ConfigError(
            f"cannot resume: the checkpoint was saved by a run with other settings ({', '.join(changed)})"
        )
    loop = replace(LoopProgress.from_json(saved), signature=fresh.signature)
    best_params = checkpoints.best.restore(state)[0].params if loop.best_epoch else None
    return state, loop, best_params


def _train_epoch(
    state: TrainState,
    step: Callable,
    source: EpochBatches,
    batches: list,
    epoch: int,
    max_epochs: int,
    show: bool,
) -> tuple[TrainState, dict[str, Any]]:
    """One pass over `batches` (from `source`); returns the new state and the epoch's log entry."""
    started = time.perf_counter()
    losses, tokens = [], []
    bar = tqdm(total=len(batches), desc=f"epoch {epoch}/{max_epochs}", unit="step", disable=not show, leave=False)
    for i, batch in enumerate(batches):
        state, loss = step(state, batch)
        losses.append(loss)
        tokens.append(source.examples(batch))
        if i and show:
            # Reading the previous step's loss keeps one step in flight while the host moves on.
            elapsed = time.perf_counter() - started
            bar.set_postfix(
                loss=f"{float(losses[-2]):.4f}", ex_per_s=f"{sum(tokens[:-1]) / elapsed:.0f}", refresh=False
            )
        bar.update()
    values = np.asarray(jax.device_get(losses), dtype=np.float64)
    elapsed = time.perf_counter() - started
    bar.close()
    weights = np.asarray(tokens)
    return state, {
        "epoch": epoch,
        "step": int(state.step),
        "train_loss": float(np.sum(values * weights) / weights.sum()),
        "train_time_s": elapsed,
        "examples": int(weights.sum()),
        "examples_per_s": float(weights.sum() / elapsed),
    }


def _summary(entry: dict[str, Any], metric: str, loop: LoopProgress, max_epochs: int) -> str:
    seconds = entry["train_time_s"] + entry["valid_time_s"]
    remaining = max_epochs - entry["epoch"]
    line = (
        f"epoch {entry['epoch']}/{max_epochs} (step {entry['step']}, at most {remaining * seconds / 60:.0f} min left): "
        f"loss {entry['train_loss']:.4f}, {entry['examples_per_s']:.0f} ex/s, train {entry['train_time_s']:.1f}s"
    )
    if not entry["valid"]:
        return line
    return (
        f"{line}, valid {entry['valid_time_s']:.1f}s, "
        f"{metric} {entry['valid'][metric]:.4f} (best {loop.best_value:.4f} at epoch {loop.best_epoch})"
    )
