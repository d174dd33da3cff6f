"""The training loop: epochs of train steps, validation after each, early stopping, checkpoints, logs.

The loop knows nothing of the model, its batches or the evaluation protocol: it trains `params`
on a `LossFn` over `EpochBatches` with the step `make_train_step` compiles (reused by later fits
of the same loss function and settings: `dynint.train.step_reuse`), and asks
`validate(params)` for the metrics of an epoch. Sequence models and CTR models share it.

Faults end cleanly. A non-finite loss or gradient norm halts the step on the device (see
`make_train_step`), and the loop raises `TrainingDiverged` when it next reads the step's guard,
which it does only where it syncs anyway (the progress bar, a checkpoint, the end of an epoch),
or when the guard is already computed. SIGINT and SIGTERM save a checkpoint at the next step
boundary, with the position in the epoch's batches, and raise `Interrupted`; a resumed run
continues from that step and ends as an uninterrupted one would.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from tqdm.auto import tqdm

from dynint.distributed.runtime import barrier, global_batch, host_copy, is_primary, same_on_every_process
from dynint.errors import ConfigError, Interrupted, TrainingDiverged
from dynint.io import append_jsonl, write_text_atomic
from dynint.observability.curves import plot_runs
from dynint.observability.tensorboard import EpochWriter
from dynint.privacy.accounting import epsilon_spent
from dynint.train import sharding
from dynint.train.checkpoint import Checkpoints
from dynint.train.config import TrainConfig
from dynint.train.optim import learning_rate_schedule
from dynint.train.state import StepGuard, TrainState, init_guard, init_state, nonfinite_quantity
from dynint.train.step import LossFn
from dynint.train.step_reuse import shared_optimizer, shared_train_step

METRICS_LOG = "metrics.jsonl"

# Settings that decide only what happens on a fault or when to stop, so a run may be resumed with
# other values (patience is checked on its own: `_check_patience`).
_NOT_RUN_IDENTITY = {
    # Also the device topology: a checkpoint restores onto another mesh (orbax reshards it).
    "train": (
        "patience",
        "on_nonfinite",
        "max_consecutive_nonfinite",
        "checkpoint_every_steps",
        "num_devices",
        "model_parallelism",
    ),
    "data": ("skip_malformed_lines",),
}


@dataclass
class LoopProgress:
    """What the loop has done so far; saved with every checkpoint, so a resumed run continues
    exactly where the interrupted one stopped. `history` holds one record per finished epoch;
    `best_step` is the step the best epoch ended at (its save in `best/`). A save within an
    epoch also holds `partial_epoch`: the epoch, the batches done and their losses and sizes."""

    epoch: int = 0
    best_epoch: int = 0
    best_value: float = -math.inf
    bad_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    signature: dict[str, Any] = field(default_factory=dict)
    best_step: int | None = None
    consecutive_nonfinite: int = 0
    skipped_steps: int = 0
    partial_epoch: dict[str, Any] | None = None

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
    """The parameters of the best validation epoch, the loop's record, and the optimizer state
    the last step left (on the host), for a fit that continues this one."""

    best_params: Any
    progress: LoopProgress
    final_opt_state: Any = None


class EpochBatches(Protocol):
    """The training batches of every epoch, a pure function of `(seed, epoch)` (see `SequenceBatcher`)."""

    def num_batches(self, seed: int, epoch: int) -> int: ...

    def epoch(self, seed: int, epoch: int) -> Any:
        """The epoch's batches, in order: a sequence that supports `len` and indexing."""
        ...

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
    opt_state: Any = None,
) -> FitResult:
    """Train `params` on `loss` for up to `train.max_epochs` epochs of `batches` (data order from
    `seed`, step randomness from `key`, batches split over `mesh`), stopping after
    `train.patience` epochs without a better `train.early_stopping_metric` on validation. With
    `validate=None` there is no validation: all `train.max_epochs` epochs run and the last one
    is kept. With `train.resume`, continue from the latest checkpoint, also one saved within an
    epoch (a finished run is not trained further); `signature` (the settings that define the
    run) must then equal the one the checkpoint was saved with, but for the settings that only
    decide when to stop or what to do on a fault (see `_check_patience`). Raises
    `TrainingDiverged` (see `train.on_nonfinite`) and, on SIGINT or SIGTERM, `Interrupted`.
    `opt_state` continues an earlier fit's optimizer state (its moments and step count, for the
    same optimizer settings) instead of a fresh one."""
    if train.resume and not train.checkpoint:
        raise ConfigError("train.resume=true needs train.checkpoint=true")
    steps_per_epoch = batches.num_batches(seed, 1)
    total_steps = steps_per_epoch * train.max_epochs
    state = init_state(params, shared_optimizer(train, total_steps), key)
    if opt_state is not None:
        fresh = jax.tree.map(np.shape, state.opt_state)
        if jax.tree.map(np.shape, opt_state) != fresh:
            raise ValueError("the optimizer state to continue does not fit these parameters and optimizer settings")
        state = state.replace(opt_state=opt_state)
    shardings = sharding.state_shardings(mesh, state)
    state = jax.device_put(state, shardings)
    if (train.privacy.enabled or train.federated.enabled) and not hasattr(batches, "num_sequences"):
        raise ConfigError("train.privacy and train.federated are implemented for next-item sequence models only")
    step = shared_train_step(loss, train, total_steps, mesh, shardings)
    if jax.process_count() > 1:  # each process hands its devices their share of the batch
        step = _with_global_batches(step, sharding.batch_sharding(mesh))
    if sharding.one_program_at_a_time(mesh.devices.flat):
        step = _one_step_at_a_time(step)

    checkpoint_dir = train.checkpoint_directory(run_dir)
    if train.checkpoint and not train.resume:
        if is_primary():
            shutil.rmtree(checkpoint_dir, ignore_errors=True)  # a fresh run replaces an earlier run's checkpoints
        barrier("fresh checkpoints")
    checkpoints = Checkpoints(checkpoint_dir) if train.checkpoint else None
    trainer = _Trainer(train, seed, step, batches, checkpoints, state, LoopProgress(signature=signature or {}))
    if is_primary():  # TensorBoard event files, written once
        trainer.writer = EpochWriter(run_dir, learning_rate_schedule(train, steps_per_epoch * train.max_epochs))
    try:
        if train.resume:
            trainer.resume()
            if validate is not None:
                _check_patience(train, trainer.loop)
        lines = "".join(json.dumps(entry) + "\n" for entry in trainer.loop.history)
        write_text_atomic(run_dir / METRICS_LOG, lines)
        with _deferred_interrupts() as interrupt:
            trainer.run(validate, run_dir / METRICS_LOG, interrupt, progress, on_epoch_end)
    finally:
        if checkpoints is not None:
            checkpoints.close()
        if trainer.writer is not None:
            trainer.writer.close()
    if is_primary() and trainer.loop.history:
        metric = train.early_stopping_metric if validate is not None else ""
        plot_runs({run_dir.name: trainer.loop.history}, metric, run_dir / "curves.png")
    if trainer.best_params is None:
        raise RuntimeError("training ran no epoch, so there is no best checkpoint to evaluate")
    return FitResult(trainer.best_params, trainer.loop, host_copy(trainer.state.opt_state))


def _with_global_batches(step: Callable[..., Any], placement: Any) -> Callable[..., Any]:
    """`step` fed arrays laid out over every process's devices from the host batch each process holds."""

    def placed_step(state: Any, guard: Any, batch: Any) -> Any:
        return step(state, guard, global_batch(batch, placement))

    return placed_step


def _one_step_at_a_time(step: Callable[..., Any]) -> Callable[..., Any]:
    """`step` that returns only once its results are computed (see `sharding.one_program_at_a_time`)."""

    def finished_step(state: Any, guard: Any, batch: Any) -> Any:
        return jax.block_until_ready(step(state, guard, batch))

    return finished_step


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
    """`signature` without the settings a resumed run may change (`_NOT_RUN_IDENTITY`)."""
    identity = dict(signature)
    for section, keys in _NOT_RUN_IDENTITY.items():
        if isinstance(identity.get(section), dict):
            identity[section] = {k: v for k, v in identity[section].items() if k not in keys}
    return identity


@dataclass
class _Interrupt:
    """The signal that asked the loop to stop (None: none yet)."""

    signum: int | None = None


@contextmanager
def _deferred_interrupts() -> Iterator[_Interrupt]:
    """While training, SIGINT and SIGTERM only set the yielded `_Interrupt`, and the loop stops at
    the next step boundary; a second signal acts as it did before. (Signal handlers can only be
    set from the main thread; elsewhere signals keep their behaviour.)"""
    interrupt = _Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield interrupt
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in signals}

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    def defer(signum: int, frame: Any) -> None:
        interrupt.signum = signum
        restore()

    for signum in signals:
        signal.signal(signum, defer)
    try:
        yield interrupt
    finally:
        restore()


@jax.jit
def _all_finite(tree: Any) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]))


@dataclass
class _EpochRun:
    """The epoch being trained: its number, the step it began after, and the loss (device arrays,
    or floats read back from a save) and number of examples of each of its steps so far."""

    epoch: int
    first_step: int
    losses: list[Any]
    examples: list[float]
    started: float
    gradient_norms: list[Any]

    @property
    def step(self) -> int:
        """The steps done, counting from the start of training."""
        return self.first_step + len(self.losses)


class _Trainer:
    """One `fit` in progress: its fixed pieces, and the state, guard and progress that change."""

    def __init__(
        self,
        train: TrainConfig,
        seed: int,
        step: Callable,
        batches: EpochBatches,
        checkpoints: Checkpoints | None,
        state: TrainState,
        loop: LoopProgress,
    ):
        self.train, self.seed, self.step, self.batches, self.checkpoints = train, seed, step, batches, checkpoints
        self.state, self.loop = state, loop
        self.guard: StepGuard = init_guard()
        self.best_params: Any = None
        self.writer: EpochWriter | None = None

    def resume(self) -> None:
        """Continue from the latest checkpoint (nothing to do if none was saved)."""
        restored = self.checkpoints.latest.restore(self.state)
        if restored is None:
            return
        state, saved, _ = restored
        signature, expected = _run_identity(saved["signature"]), _run_identity(self.loop.signature)
        if signature != expected:
            keys = {**signature, **expected}
            changed = sorted(k for k in keys if signature.get(k) != expected.get(k))
            raise ConfigError(
                f"cannot resume: the checkpoint was saved by a run with other settings ({', '.join(changed)})"
            )
        self.state = state
        self.loop = replace(LoopProgress.from_json(saved), signature=self.loop.signature)
        self.guard = init_guard(self.loop.consecutive_nonfinite, self.loop.skipped_steps)
        if self.loop.best_epoch:
            self.best_params = self.checkpoints.best.restore(state, self.loop.best_step)[0].params

    def run(
        self,
        validate: Callable[[Any], dict[str, float]] | None,
        log: Path,
        interrupt: _Interrupt,
        progress: bool,
        on_epoch_end: Callable[[int], None] | None,
    ) -> None:
        train, loop = self.train, self.loop
        show = progress and sys.stderr.isatty()
        for epoch in range(loop.epoch + 1, train.max_epochs + 1):
            if loop.bad_epochs >= train.patience or self._privacy_budget_spent():
                break
            entry = self._train_epoch(epoch, interrupt, show)
            started = time.perf_counter()
            metrics = same_on_every_process(validate(self.state.params)) if validate is not None else {}
            entry["valid_time_s"] = time.perf_counter() - started
            entry["valid"] = metrics
            if train.privacy.enabled:
                entry["epsilon"], entry["delta"] = self._epsilon_spent(), self._delta()
            # Without validation every epoch counts as the best so far, so the last one is kept.
            value = metrics[train.early_stopping_metric] if validate is not None else float(epoch)
            if loop.record(epoch, value, entry):
                self.best_params = host_copy(self.state.params)  # a host copy: the state is donated
                loop.best_step = entry["step"]
                if self.checkpoints is not None:
                    self.checkpoints.best.save(entry["step"], self.state, loop.to_json())
            if self.checkpoints is not None:
                self.checkpoints.latest.save(entry["step"], self.state, loop.to_json())
            append_jsonl(log, entry)
            if self.writer is not None:
                self.writer.write(entry)
            if progress:  # one line per epoch, also when stderr is a log file rather than a terminal
                tqdm.write(_summary(entry, train.early_stopping_metric, loop, train.max_epochs), file=sys.stderr)
            if on_epoch_end is not None:
                on_epoch_end(epoch)
            if interrupt.signum is not None:
                raise self._interrupted(interrupt.signum, f"after epoch {epoch} (step {entry['step']})")

    def _epsilon_spent(self) -> float:
        """DP-SGD's epsilon after the steps taken so far (`dynint.privacy.accounting`)."""
        rate = min(self.train.batch_size / self.batches.num_sequences, 1.0)
        return epsilon_spent(self.train.privacy.noise_multiplier, rate, int(self.state.step), self._delta())

    def _delta(self) -> float:
        return self.train.privacy.delta or 1.0 / self.batches.num_sequences

    def _privacy_budget_spent(self) -> bool:
        """Whether the last finished epoch reached `train.privacy.target_epsilon`."""
        target = self.train.privacy.target_epsilon
        if not self.train.privacy.enabled or target is None or not self.loop.history:
            return False
        return self.loop.history[-1].get("epsilon", 0.0) >= target

    def _train_epoch(self, epoch: int, interrupt: _Interrupt, show: bool) -> dict[str, Any]:
        """Train the epoch's batches (from where a save within it left off); returns its log entry."""
        batches = self.batches.epoch(self.seed, epoch)
        partial = self.loop.partial_epoch if (self.loop.partial_epoch or {}).get("epoch") == epoch else {}
        self.loop.partial_epoch = None
        done = partial.get("batches", 0)
        run = _EpochRun(
            epoch,
            first_step=int(self.state.step) - done,
            losses=list(partial.get("losses", [])),
            examples=list(partial.get("examples", [])),
            started=time.perf_counter() - partial.get("train_time_s", 0.0),
            # A save from before gradient norms were kept has none: its steps count as unknown.
            gradient_norms=list(partial.get("gradient_norms", [math.nan] * done)),
        )
        description = f"epoch {epoch}/{self.train.max_epochs}"
        bar = tqdm(total=len(batches), initial=done, desc=description, unit="step", disable=not show, leave=False)
        try:
            for index in range(done, len(batches)):
                if interrupt.signum is not None or (index > done and self._checkpoint_due(run.step)):
                    if index > 0:
                        self._check_health(run)
                        self._save_position(run)
                    if interrupt.signum is not None:
                        where = f"at epoch {epoch}, step {run.step} ({index} of its steps)"
                        raise self._interrupted(interrupt.signum, where)
                batch = batches[index]
                previous = self.guard
                self.state, self.guard, outputs = self.step(self.state, previous, batch)
                run.losses.append(outputs.loss)
                run.gradient_norms.append(outputs.gradient_norm)
                run.examples.append(self.batches.examples(batch))
                if show and index > done:
                    # Reading the previous step's outputs keeps one step in flight while the host moves on.
                    shown, halted = jax.device_get((run.losses[-2], previous.halted))
                    rate = sum(run.examples[:-1]) / (time.perf_counter() - run.started)
                    bar.set_postfix(loss=f"{shown:.4f}", ex_per_s=f"{rate:.0f}", refresh=False)
                else:
                    halted = previous.halted.is_ready() and bool(previous.halted)
                if halted:
                    raise self._diverged(run)
                bar.update()
            values = np.asarray(jax.device_get(run.losses), dtype=np.float64)
            norms = np.asarray(jax.device_get(run.gradient_norms), dtype=np.float64)
            elapsed = time.perf_counter() - run.started
            self._check_health(run)
        finally:
            bar.close()
        weights = np.asarray(run.examples)
        kept = np.isfinite(values)  # a dropped step reports NaN
        return {
            "epoch": epoch,
            "step": run.step,
            "train_loss": float(np.sum(values[kept] * weights[kept]) / weights[kept].sum()) if kept.any() else None,
            # The mean over the epoch's applied steps of the gradient's global norm (before clipping).
            "gradient_norm": float(np.mean(norms[known])) if (known := np.isfinite(norms)).any() else None,
            "train_time_s": elapsed,
            "examples": int(weights.sum()),
            "examples_per_s": float(weights.sum() / elapsed),
            "skipped_steps": int(np.sum(~kept)),
        }

    def _checkpoint_due(self, step: int) -> bool:
        every = self.train.checkpoint_every_steps
        return every is not None and step % every == 0

    def _save_position(self, run: _EpochRun) -> None:
        """Save the latest checkpoint within `run`'s epoch, with the losses and sizes of its steps so
        far, so that the resumed epoch logs what the uninterrupted one would."""
        if self.checkpoints is None:
            return
        losses = [float(value) for value in jax.device_get(run.losses)]
        self.loop.partial_epoch = {
            "epoch": run.epoch,
            "batches": len(run.losses),
            "losses": losses,
            "gradient_norms": [float(value) for value in jax.device_get(run.gradient_norms)],
            "examples": run.examples,
            "train_time_s": time.perf_counter() - run.started,
        }
        self.checkpoints.latest.save(run.step, self.state, self.loop.to_json())
        self.loop.partial_epoch = None

    def _check_health(self, run: _EpochRun) -> None:
        """Before a checkpoint or a validation: raise `TrainingDiverged` if the guard halted or the
        parameters are not finite; else note the guard's counts in the progress record."""
        guard = jax.device_get(self.guard)
        if guard.halted:
            raise self._diverged(run)
        if not _all_finite(self.state.params):
            within = run.step - run.first_step
            raise self._divergence(run.epoch, run.step, within, "parameters", "the parameters are not finite")
        self.loop.consecutive_nonfinite, self.loop.skipped_steps = int(guard.consecutive), int(guard.skipped)

    def _diverged(self, run: _EpochRun) -> TrainingDiverged:
        """The error for a halted guard. The halted state is the last good one, before the step that
        halted it: it is saved as the latest checkpoint, unless that is the epoch's start (saved already)."""
        guard = jax.device_get(self.guard)
        step = int(guard.halt_step)
        good = step - 1 - run.first_step
        if good > 0 and self.checkpoints is not None and _all_finite(self.state.params):
            self.loop.consecutive_nonfinite, self.loop.skipped_steps = int(guard.consecutive), int(guard.skipped)
            del run.losses[good:], run.examples[good:], run.gradient_norms[good:]
            self._save_position(run)
        quantity = nonfinite_quantity(int(guard.halt_cause))
        problem = f"the {quantity} {'are' if ' and ' in quantity else 'is'} not finite"
        if self.train.on_nonfinite == "skip":
            limit = self.train.max_consecutive_nonfinite
            problem += f" in {limit} steps in a row (train.max_consecutive_nonfinite={limit})"
        return self._divergence(run.epoch, step, step - run.first_step, quantity, problem)

    def _divergence(self, epoch: int, step: int, within: int, quantity: str, problem: str) -> TrainingDiverged:
        """The error for `problem` ("the loss is not finite") at `step`, `within` steps into `epoch`."""
        train = self.train
        latest = self.checkpoints.latest.latest_step() if self.checkpoints is not None else None
        if self.checkpoints is None:
            kept = "Checkpoints are off (train.checkpoint=false)."
        elif latest is None:
            kept = "No checkpoint had been saved yet."
        else:
            kept = f"The last good checkpoint, of step {latest}, is kept in {self.checkpoints.latest.directory}."
        clipping = (
            f"a smaller train.clip_norm (now {train.clip_norm})"
            if train.clip_norm is not None
            else "gradient clipping (e.g. train.clip_norm=1.0)"
        )
        hint = f"Try a lower train.learning_rate (now {train.learning_rate:g}) or {clipping}"
        if train.on_nonfinite == "stop":
            hint += ", or train.on_nonfinite=skip to drop such steps (also when resuming)"
        message = (
            f"training diverged at epoch {epoch}, step {step} (step {within} of the epoch): {problem}. {kept} {hint}."
        )
        return TrainingDiverged(
            message,
            epoch=epoch,
            step=step,
            quantity=quantity,
            checkpoint=None if latest is None else str(self.checkpoints.latest.directory / str(latest)),
        )

    def _interrupted(self, signum: int, where: str) -> Interrupted:
        name = signal.Signals(signum).name
        latest = self.checkpoints.latest.latest_step() if self.checkpoints is not None else None
        if latest is None:
            saved = "no checkpoint is saved, so a rerun starts afresh"
        else:
            saved = (
                f"the checkpoint of step {latest} is saved in {self.checkpoints.latest.directory}; "
                "resume to continue from it (dynint run ... --resume, or the same reproduce command)"
            )
        return Interrupted(signum, f"{name} {where}: {saved}")


def _summary(entry: dict[str, Any], metric: str, loop: LoopProgress, max_epochs: int) -> str:
    seconds = entry["train_time_s"] + entry["valid_time_s"]
    remaining = max_epochs - entry["epoch"]
    loss = "n/a" if entry["train_loss"] is None else f"{entry['train_loss']:.4f}"
    skipped = f" ({entry['skipped_steps']} non-finite steps skipped)" if entry["skipped_steps"] else ""
    line = (
        f"epoch {entry['epoch']}/{max_epochs} (step {entry['step']}, at most {remaining * seconds / 60:.0f} min left): "
        f"loss {loss}{skipped}, {entry['examples_per_s']:.0f} ex/s, train {entry['train_time_s']:.1f}s"
    )
    if not entry["valid"]:
        return line
    return (
        f"{line}, valid {entry['valid_time_s']:.1f}s, "
        f"{metric} {entry['valid'][metric]:.4f} (best {loop.best_value:.4f} at epoch {loop.best_epoch})"
    )
