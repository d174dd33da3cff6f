"""Configs of the multitask models: the shared behaviour encoder, the tasks, how experts are
shared between them, the per-task towers and how task losses are weighted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from dynint.config.typed import POLYMORPHIC
from dynint.errors import ConfigError
from dynint.models.ctr.config import Activation, DINConfig

Task = Literal["engagement", "like", "rating"]
TASKS: tuple[str, ...] = ("engagement", "like", "rating")
LossWeighting = Literal["fixed", "uncertainty"]


def _encoder_config_class(name: str) -> type:
    from dynint.models.ctr import CTR_ENCODERS

    if name not in CTR_ENCODERS:
        raise KeyError(f"unknown encoder {name!r}; expected one of {', '.join(CTR_ENCODERS)}")
    return CTR_ENCODERS[name][0]


@dataclass(frozen=True)
class MultitaskConfig:
    """Fields every multitask model has.

    `encoder` is the behaviour encoder shared by all tasks: the config of the CTR model whose
    encoder it is (`ctr-base`: pooling, `din`: DIN attention, `dien`, `bst`: Transformer); its
    click-MLP fields (`mlp_sizes`, `activation`) are unused, the towers take their place.
    `tasks` are trained together: `engagement` (the true next item against a sampled one),
    `like` (rating >= `like_threshold`, defined on engaged samples only) and `rating`
    (regression on engaged samples). Each task has a tower of `tower_sizes` hidden layers
    (`activation`, `dropout` after each) ending in one output. Task losses are summed with
    `task_weights` (one per task, default 1 each) or, with `loss_weighting: uncertainty`,
    weighted by learned homoscedastic uncertainties (Kendall et al., CVPR 2018)."""

    name: str = ""
    encoder: Any = field(default_factory=DINConfig, metadata={POLYMORPHIC: _encoder_config_class})
    tasks: tuple[Task, ...] = TASKS
    like_threshold: float = 4.0
    tower_sizes: tuple[int, ...] = (64,)
    activation: Activation = "prelu"
    dropout: float = 0.0
    loss_weighting: LossWeighting = "fixed"
    task_weights: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not self.tasks or len(set(self.tasks)) != len(self.tasks) or not set(self.tasks) <= set(TASKS):
            raise ConfigError(f"model.tasks={list(self.tasks)!r}: expected distinct tasks among {', '.join(TASKS)}")
        if any(size < 1 for size in self.tower_sizes):
            raise ConfigError("model.tower_sizes must be positive integers")
        if self.activation not in ("dice", "prelu"):
            raise ConfigError(f"model.activation={self.activation!r}: expected 'dice' or 'prelu'")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout={self.dropout!r}: expected a rate in [0, 1)")
        if self.loss_weighting not in ("fixed", "uncertainty"):
            raise ConfigError(f"model.loss_weighting={self.loss_weighting!r}: expected 'fixed' or 'uncertainty'")
        if self.task_weights and (len(self.task_weights) != len(self.tasks) or min(self.task_weights) < 0):
            raise ConfigError(
                f"model.task_weights={list(self.task_weights)!r}: expected one non-negative weight per task "
                f"of model.tasks={list(self.tasks)!r}, or none (1 each)"
            )
        if self.task_weights and self.loss_weighting == "uncertainty":
            raise ConfigError("model.task_weights: learned (loss_weighting: uncertainty) weights take no fixed weights")

    @property
    def weights(self) -> tuple[float, ...]:
        """The fixed weight of each task."""
        return self.task_weights or (1.0,) * len(self.tasks)


def _check_expert_sizes(sizes: tuple[int, ...]) -> None:
    if not sizes or any(size < 1 for size in sizes):
        raise ConfigError(f"model.expert_sizes={list(sizes)!r}: expected at least one positive layer width")


@dataclass(frozen=True)
class SharedBottomConfig(MultitaskConfig):
    """One bottom MLP (`bottom_sizes`) shared by every task's tower (Caruana, 1997). With a single
    task this is the single-task model the multitask ones are compared with."""

    name: str = "shared-bottom"
    bottom_sizes: tuple[int, ...] = (128,)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.bottom_sizes or any(size < 1 for size in self.bottom_sizes):
            raise ConfigError(f"model.bottom_sizes={list(self.bottom_sizes)!r}: expected positive layer widths")


@dataclass(frozen=True)
class MMoEConfig(MultitaskConfig):
    """`num_experts` shared expert MLPs (`expert_sizes`), mixed for each task by its own softmax
    gate (Ma et al., KDD 2018)."""

    name: str = "mmoe"
    num_experts: int = 4
    expert_sizes: tuple[int, ...] = (128,)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_experts < 1:
            raise ConfigError(f"model.num_experts={self.num_experts!r}: expected a positive integer")
        _check_expert_sizes(self.expert_sizes)


@dataclass(frozen=True)
class PLEConfig(MultitaskConfig):
    """Progressive Layered Extraction (Tang et al., RecSys 2020): `num_levels` stacked CGC layers,
    each with `num_task_experts` experts per task and `num_shared_experts` shared ones."""

    name: str = "ple"
    num_levels: int = 2
    num_task_experts: int = 1
    num_shared_experts: int = 2
    expert_sizes: tuple[int, ...] = (128,)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_levels < 1 or self.num_task_experts < 0 or self.num_shared_experts < 0:
            raise ConfigError(
                f"model.num_levels={self.num_levels!r}, model.num_task_experts={self.num_task_experts!r}, "
                f"model.num_shared_experts={self.num_shared_experts!r}: expected >= 1, >= 0 and >= 0"
            )
        if self.num_task_experts + self.num_shared_experts == 0:
            raise ConfigError("model.num_task_experts and model.num_shared_experts: a CGC layer needs an expert")
        _check_expert_sizes(self.expert_sizes)


@dataclass(frozen=True)
class ESMMConfig(MultitaskConfig):
    """Entire Space Multi-task Model (Ma et al., SIGIR 2018): a CTR tower and a CVR (like) tower on
    the shared encoder; pCTCVR = pCTR x pCVR is trained on every sample, so the CVR tower's loss
    never depends on samples that were not engaged."""

    name: str = "esmm"
    tasks: tuple[Task, ...] = ("engagement", "like")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not {"engagement", "like"} <= set(self.tasks):
            raise ConfigError(f"model.tasks={list(self.tasks)!r}: ESMM needs both 'engagement' and 'like'")
