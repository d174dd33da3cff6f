"""`TrainConfig`: how a neural model is trained (optimizer, schedule, batching, early stopping, checkpoints)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dynint.errors import ConfigError
from dynint.privacy.config import FederatedConfig, PrivacyConfig


@dataclass(frozen=True)
class TrainConfig:
    """Training settings shared by every neural model.

    Sequences keep their last `max_length` inputs. Each batch holds at most `batch_size`
    sequences of one length bucket (`bucket_lengths`, capped at `max_length`) and at most
    `max_tokens_per_batch` predicted positions, which bounds the output layer's memory.
    The learning rate warms up linearly for `warmup_steps`, then follows `schedule` down to
    `learning_rate * final_learning_rate_fraction` at the last step of `max_epochs`.
    Weight decay applies to weight matrices, and to embedding tables only with
    `decay_embeddings` (biases and normalisation scales are never decayed); `adam` adds it to the
    gradient (L2), `adamw` decouples it. Validation runs after every epoch; training stops after
    `patience` epochs without a better `early_stopping_metric`, and the test set is evaluated once,
    with the best epoch's parameters. `eval_batch_size` is the number of histories encoded per
    call when scoring. Checkpoints go to `checkpoint_dir` (default: the run folder's
    `checkpoints/`); `resume` continues from the latest one. `patience` only decides when to stop,
    so a run that stopped early can be resumed with a larger one (and is then the run that had it
    from the start). `num_devices` (-1: all) splits each batch over that many devices;
    `model_parallelism` of them at a time form the mesh's `model` axis, over which the item
    tables (and their optimizer moments) are row-sharded (`dynint.train.sharding`), the batch
    then split over the `num_devices / model_parallelism` groups. `dtype: bfloat16` computes the
    forward and backward passes in bfloat16, keeping float32 parameters, optimizer state and loss
    (`dynint.train.precision`).

    Faults. A step whose loss or gradient norm is not finite never changes the parameters;
    `on_nonfinite="stop"` then ends the run (`TrainingDiverged`, the last good checkpoint kept),
    `"skip"` drops the step and counts it, and stops only after `max_consecutive_nonfinite` such
    steps in a row. The latest checkpoint is saved after every epoch and, with
    `checkpoint_every_steps`, also every that many steps within an epoch (with its position in the
    epoch's batches), so a killed run loses at most that many steps. SIGINT and SIGTERM save one at
    the next step boundary. These settings change nothing while training goes well, so a run
    may be resumed with other values.

    `privacy` trains with DP-SGD (next-item sequence models; see `dynint.privacy.config`): the
    loop then reports each epoch's spent epsilon and stops at `privacy.target_epsilon`.
    `federated` trains by FedAvg rounds of `batch_size` clients (users), and with `privacy` by
    DP-FedAvg (`dynint.privacy.federated`).

    `refit_for_test` (sequence models): once early stopping has chosen the best epoch `E` on
    validation, a second model is trained from the same initial parameters for `E` epochs on the
    events visible at test time (training plus validation events, as the baselines see them),
    and that model is tested. The test set still chooses nothing; the refit only lets the model
    learn from the validation events that the test histories contain.
    """

    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    decay_embeddings: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    schedule: Literal["constant", "cosine", "linear"] = "constant"
    warmup_steps: int = 0
    final_learning_rate_fraction: float = 0.0
    clip_norm: float | None = None
    batch_size: int = 256
    max_epochs: int = 200
    patience: int = 10
    early_stopping_metric: str = "NDCG@10"
    max_length: int = 50
    bucket_lengths: tuple[int, ...] = (8, 16, 32, 50)
    max_tokens_per_batch: int = 4096
    eval_batch_size: int = 512
    num_devices: int = 1
    model_parallelism: int = 1
    dtype: Literal["float32", "bfloat16"] = "float32"
    checkpoint: bool = True
    checkpoint_dir: str | None = None
    resume: bool = False
    refit_for_test: bool = False
    on_nonfinite: Literal["stop", "skip"] = "stop"
    max_consecutive_nonfinite: int = 10
    checkpoint_every_steps: int | None = None
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    federated: FederatedConfig = field(default_factory=FederatedConfig)

    def checkpoint_directory(self, run_dir: str | Path) -> Path:
        """Where the run in `run_dir` keeps its checkpoints: `checkpoint_dir`, else `run_dir/checkpoints`."""
        return Path(self.checkpoint_dir or Path(run_dir) / "checkpoints")

    def __post_init__(self) -> None:
        object.__setattr__(self, "bucket_lengths", tuple(self.bucket_lengths))
        positive = ("learning_rate", "batch_size", "max_epochs", "patience", "max_length")
        positive += ("max_tokens_per_batch", "eval_batch_size")
        for key in positive:
            if not getattr(self, key) > 0:
                raise ConfigError(f"train.{key}={getattr(self, key)!r}: expected a positive number")
        for key in ("weight_decay", "warmup_steps"):
            if getattr(self, key) < 0:
                raise ConfigError(f"train.{key}={getattr(self, key)!r}: expected a non-negative number")
        if not 0.0 <= self.final_learning_rate_fraction <= 1.0:
            raise ConfigError(
                f"train.final_learning_rate_fraction={self.final_learning_rate_fraction!r}: expected 0..1"
            )
        if self.max_consecutive_nonfinite < 1:
            raise ConfigError(
                f"train.max_consecutive_nonfinite={self.max_consecutive_nonfinite!r}: expected a positive count"
            )
        if self.checkpoint_every_steps is not None and self.checkpoint_every_steps < 1:
            raise ConfigError(
                f"train.checkpoint_every_steps={self.checkpoint_every_steps!r}: expected a positive number of "
                "steps, or null to checkpoint after each epoch only"
            )
        if self.privacy.enabled and self.refit_for_test:
            raise ConfigError(
                "train.privacy with train.refit_for_test would train a second time on the users' data (twice the "
                "privacy cost); set train.refit_for_test=false"
            )
        if self.privacy.enabled and self.privacy.unit == "example" and self.federated.enabled:
            raise ConfigError(
                "train.privacy.unit='example' with train.federated: a federated client is a user, so DP-FedAvg's "
                "unit is the user; set train.privacy.unit=user"
            )
        if self.clip_norm is not None and self.clip_norm <= 0:
            raise ConfigError(f"train.clip_norm={self.clip_norm!r}: expected a positive number or null")
        if not self.bucket_lengths or any(b < 1 for b in self.bucket_lengths):
            raise ConfigError(f"train.bucket_lengths={list(self.bucket_lengths)!r}: expected positive lengths")
        if list(self.bucket_lengths) != sorted(set(self.bucket_lengths)):
            raise ConfigError(f"train.bucket_lengths={list(self.bucket_lengths)!r}: expected increasing lengths")
        if self.num_devices < 1 and self.num_devices != -1:
            raise ConfigError(f"train.num_devices={self.num_devices!r}: expected a positive count, or -1 for all")
        if self.dtype not in ("float32", "bfloat16"):
            raise ConfigError(f"train.dtype={self.dtype!r}: expected 'float32' or 'bfloat16'")
        if self.model_parallelism < 1:
            raise ConfigError(f"train.model_parallelism={self.model_parallelism!r}: expected a positive count")
        if self.num_devices > 0 and self.num_devices % self.model_parallelism:
            raise ConfigError(
                f"train.model_parallelism={self.model_parallelism} must divide train.num_devices={self.num_devices}"
            )

    @property
    def nonfinite_limit(self) -> int:
        """How many non-finite steps in a row end the run: 1 under `stop`."""
        return 1 if self.on_nonfinite == "stop" else self.max_consecutive_nonfinite

    @property
    def buckets(self) -> tuple[int, ...]:
        """Static sequence lengths batches are padded to: `bucket_lengths` below `max_length`, then `max_length`."""
        return tuple(b for b in self.bucket_lengths if b < self.max_length) + (self.max_length,)
