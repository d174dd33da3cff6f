"""`train.privacy`: the DP-SGD settings of a run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dynint.errors import ConfigError

PrivacyUnit = Literal["user", "example"]


@dataclass(frozen=True)
class PrivacyConfig:
    """DP-SGD (Abadi et al., CCS 2016). With `unit: user` (the default) one example is one user's
    whole training sequence (every next-item position of it together), so the guarantee covers a
    user; with `unit: example` every next-item prediction is its own example (its target and the
    `train.max_length` events before it; `dynint.privacy.units`), a guarantee per prediction that
    covers an event only as a group of up to `max_length + 1` examples.

    Each step clips every example's gradient to L2 norm `clip_norm`, sums them, adds Gaussian noise
    of standard deviation `noise_multiplier * clip_norm` to every coordinate, and divides by the
    batch's example count. `delta` (None: 1 / the number of training examples) is the delta of the
    reported epsilon; with `target_epsilon`, training stops after the first epoch whose epsilon
    reaches it. Accounting (`dynint.privacy.accounting`) treats each batch as a Poisson sample of
    rate batch size / examples, the usual DP-SGD analysis; the loop's shuffled fixed-size batches only
    approximate that sampling (stated with the results). Noise covers every parameter, the item
    table included (no sparse treatment).

    `chunk_size` (None: the whole batch) is how many examples' gradients are held in memory at
    once; a batch larger than that is clipped and summed in chunks and noised once, the same step.
    """

    enabled: bool = False
    clip_norm: float = 1.0
    noise_multiplier: float = 1.0
    delta: float | None = None
    target_epsilon: float | None = None
    unit: PrivacyUnit = "user"
    chunk_size: int | None = None

    def __post_init__(self) -> None:
        if not self.clip_norm > 0:
            raise ConfigError(
                f"train.privacy.clip_norm={self.clip_norm!r}: expected a positive number (inf: no clipping)"
            )
        if self.noise_multiplier > 0 and self.clip_norm == float("inf"):
            raise ConfigError("train.privacy: noise needs a finite clip_norm (it is scaled by it)")
        if self.noise_multiplier < 0:
            raise ConfigError(f"train.privacy.noise_multiplier={self.noise_multiplier!r}: expected a number >= 0")
        if self.delta is not None and not 0 < self.delta < 1:
            raise ConfigError(f"train.privacy.delta={self.delta!r}: expected a value in (0, 1) or null")
        if self.unit not in ("user", "example"):
            raise ConfigError(f"train.privacy.unit={self.unit!r}: expected 'user' or 'example'")
        if self.chunk_size is not None and (isinstance(self.chunk_size, bool) or not self.chunk_size >= 1):
            raise ConfigError(f"train.privacy.chunk_size={self.chunk_size!r}: expected a positive integer or null")
        if self.target_epsilon is not None and not self.target_epsilon > 0:
            raise ConfigError(f"train.privacy.target_epsilon={self.target_epsilon!r}: expected a positive number")


@dataclass(frozen=True)
class FederatedConfig:
    """`train.federated`: FedAvg rounds of `train.batch_size` clients, each taking `local_steps`
    SGD steps of `local_learning_rate` on its own data."""

    enabled: bool = False
    local_steps: int = 1
    local_learning_rate: float = 0.1

    def __post_init__(self) -> None:
        if self.local_steps < 1:
            raise ConfigError(f"train.federated.local_steps={self.local_steps!r}: expected a positive integer")
        if not self.local_learning_rate > 0:
            raise ConfigError(
                f"train.federated.local_learning_rate={self.local_learning_rate!r}: expected a positive number"
            )
