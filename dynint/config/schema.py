"""The experiment config schema. YAML files in `experiments/` instantiate these dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from dynint.config.typed import POLYMORPHIC
from dynint.data.synthetic import SyntheticConfig
from dynint.distributed.config import DistributedConfig
from dynint.errors import ConfigError
from dynint.eval.ctr_protocol import CTRProtocol
from dynint.eval.protocols import RankingProtocol
from dynint.temporal.config import TemporalConfig
from dynint.train.config import TrainConfig


def _model_config_class(name: str) -> type:
    from dynint.components import model_config_class

    return model_config_class(name)


def _default_model() -> Any:
    return _model_config_class("poprec")()


@dataclass(frozen=True)
class DataConfig:
    """Which data set to read and how to preprocess it.

    `name` is a registered data set (`dynint datasets list`), `synthetic`, or `tfds:NAME`. A data
    file with malformed lines fails naming the first and their count, unless
    `skip_malformed_lines`, which drops them with a warning that gives their count.
    """

    name: str = "synthetic"
    data_dir: str | None = None
    download: bool = False
    skip_malformed_lines: bool = False
    rating_threshold: float | None = None
    min_user_interactions: int = 0
    min_item_interactions: int = 0
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass(frozen=True)
class SplitConfig:
    """How events are divided into training, validation and test.

    `kind`: `leave-one-out` (per user, the last event is the test target and the second to last
    the validation target), `temporal` (the latest `test_fraction` of events by time are the test
    window, the `valid_fraction` before them the validation window) or `cold-items` (item cold
    start: a `cold_item_fraction` share of the items, drawn with `cold_item_seed`, never occurs
    in training and supplies the validation targets, another such share the test targets; see
    `dynint.data.splits.cold_item_split`).

    `fit_on_all_interactions` LEAKS the validation and test answers into what models fit on
    (e.g. popularity counted over every event). It exists only to reproduce published numbers
    that were computed that way; results produced with it are labelled as leaky.
    """

    kind: Literal["leave-one-out", "temporal", "cold-items"] = "leave-one-out"
    valid_fraction: float = 0.1
    test_fraction: float = 0.1
    cold_item_fraction: float = 0.1
    cold_item_seed: int = 0
    fit_on_all_interactions: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.cold_item_fraction < 0.5:
            raise ConfigError(f"split.cold_item_fraction={self.cold_item_fraction!r}: expected a number in (0, 0.5)")


@dataclass(frozen=True)
class ExperimentConfig:
    """One run: data, split, evaluation protocol and model; `seed` drives all model randomness.
    Next-item models are evaluated under `eval`, CTR models (DIN, DIEN, ...) under `ctr`. With a
    `temporal` section the run follows the streaming protocol instead of `split` (see
    `dynint.temporal`): the model is updated window by window and each window is ranked in full.
    `distributed` joins the processes of a multi-host run (see `dynint.distributed`)."""

    name: str = "experiment"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    eval: RankingProtocol = field(default_factory=RankingProtocol)
    ctr: CTRProtocol = field(default_factory=CTRProtocol)
    model: Any = field(default_factory=_default_model, metadata={POLYMORPHIC: _model_config_class})
    train: TrainConfig = field(default_factory=TrainConfig)
    temporal: TemporalConfig | None = None
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    output_dir: str = "runs"
