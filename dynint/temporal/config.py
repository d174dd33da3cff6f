"""`temporal`: how the streaming protocol cuts the time line and how models follow it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dynint.errors import ConfigError

WindowCut = Literal["time", "events"]
Strategy = Literal["static", "retrain", "finetune", "incremental"]
STRATEGIES: tuple[str, ...] = ("static", "retrain", "finetune", "incremental")


@dataclass(frozen=True)
class TemporalConfig:
    """The time line is cut into `num_windows` windows of equal time span (`cut: time`) or of
    about equal event counts (`cut: events`; events sharing a timestamp always share a window).
    Models fit on window 0, holding out its latest `valid_fraction` of events for early stopping,
    then follow `strategy` before each later window is scored:

    - `static`: never updated;
    - `retrain`: trained from scratch on every event so far (neural models for the epoch count
      early stopping chose on window 0);
    - `finetune` (neural models): the previous window's parameters trained `finetune_epochs`
      passes over the new window's events, plus a `replay_fraction` share (of the new window's
      sequences) of older users' sequences replayed in full; with `carry_optimizer_state`, the
      optimizer continues from where the previous fit left it (Adam's moments and step count,
      the new items' moments starting at zero) instead of starting afresh each window; with
      `finetune_patience` > 0 each fine-tune holds out the new window's latest `valid_fraction`
      of events and stops after that many passes without a better validation score (at most
      `finetune_epochs` passes, the best pass kept); the held-out events are the next fine-tune's
      first training targets;
    - `incremental` (ItemKNN): its co-occurrence counts updated with the new events.

    Neural item tables are allocated in blocks of `item_capacity_step` rows (0: exactly the
    catalogue): rows past the catalogue are reserved, masked out of the loss and the ranking, so
    new items within a block reuse the compiled train step (see `dynint.temporal.growth`).
    """

    num_windows: int = 10
    cut: WindowCut = "events"
    valid_fraction: float = 0.1
    strategy: Strategy = "retrain"
    finetune_epochs: int = 1
    replay_fraction: float = 0.0
    item_capacity_step: int = 0
    carry_optimizer_state: bool = False
    finetune_patience: int = 0

    def __post_init__(self) -> None:
        if self.num_windows < 2:
            raise ConfigError(f"temporal.num_windows={self.num_windows}: expected at least 2 windows")
        if self.cut not in ("time", "events"):
            raise ConfigError(f"temporal.cut={self.cut!r}: expected 'time' or 'events'")
        if not 0 < self.valid_fraction < 1:
            raise ConfigError(f"temporal.valid_fraction={self.valid_fraction}: expected a number in (0, 1)")
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"temporal.strategy={self.strategy!r}: expected one of {', '.join(STRATEGIES)}")
        if self.finetune_epochs < 1:
            raise ConfigError(f"temporal.finetune_epochs={self.finetune_epochs}: expected a positive integer")
        if self.finetune_patience < 0:
            raise ConfigError(
                f"temporal.finetune_patience={self.finetune_patience}: expected 0 (a fixed number of passes) or a "
                "positive number of passes"
            )
        if self.replay_fraction < 0:
            raise ConfigError(f"temporal.replay_fraction={self.replay_fraction}: expected a number >= 0")
        if self.item_capacity_step < 0:
            raise ConfigError(
                f"temporal.item_capacity_step={self.item_capacity_step}: expected 0 (no reserved rows) or a "
                "positive number of rows"
            )
