"""Configs of the click-through-rate models; defaults follow the DIEN paper's released code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from dynint.errors import ConfigError
from dynint.models.item_representation import ItemRepresentationConfig
from dynint.models.mixture_of_experts import MixtureOfExpertsConfig

Activation = Literal["dice", "prelu"]
AttentionActivation = Literal["sigmoid", "dice", "prelu"]
Gate = Literal["aigru", "agru", "augru"]
Pooling = Literal["sum", "mean"]


@dataclass(frozen=True)
class CTRModelConfig:
    """Fields every CTR model has. `embedding_size` is per field (the item id and each side
    feature), so an item vector has `embedding_size * (1 + features)` entries. `mlp_sizes` are the
    hidden layers of the tower that ends in one logit; `dropout` applies after each of them.
    `pooling` reduces the behaviour sequence to one vector (the DIEN code sums it). `items` says
    what the item part of an item vector is (`model.items.kind`; the id embedding by default).
    `side_features` names the item token features embedded as fields of their own beside it
    (None: every one the data set has, as in the DIEN paper; `[]`: none)."""

    name: str = ""
    embedding_size: int = 18
    mlp_sizes: tuple[int, ...] = (200, 80)
    activation: Activation = "dice"
    dropout: float = 0.0
    pooling: Pooling = "sum"
    items: ItemRepresentationConfig = field(default_factory=ItemRepresentationConfig)
    side_features: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.embedding_size < 1 or any(size < 1 for size in self.mlp_sizes):
            raise ConfigError("model.embedding_size and model.mlp_sizes must be positive integers")
        if self.activation not in ("dice", "prelu"):
            raise ConfigError(f"model.activation={self.activation!r}: expected 'dice' or 'prelu'")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout={self.dropout!r}: expected a rate in [0, 1)")
        if self.pooling not in ("sum", "mean"):
            raise ConfigError(f"model.pooling={self.pooling!r}: expected 'sum' or 'mean'")


@dataclass(frozen=True)
class BaseModelConfig(CTRModelConfig):
    """Embedding & MLP: pooled behaviours and the target item, no attention."""

    name: str = "ctr-base"


@dataclass(frozen=True)
class DINConfig(CTRModelConfig):
    """`attention_sizes` / `attention_activation`: the hidden layers of the local activation unit
    (the DIN and DIEN code use 80, 40 with sigmoid)."""

    name: str = "din"
    attention_sizes: tuple[int, ...] = (80, 40)
    attention_activation: AttentionActivation = "sigmoid"

    def __post_init__(self) -> None:
        super().__post_init__()
        if any(size < 1 for size in self.attention_sizes):
            raise ConfigError("model.attention_sizes must be positive integers")
        if self.attention_activation not in ("sigmoid", "dice", "prelu"):
            raise ConfigError(
                f"model.attention_activation={self.attention_activation!r}: expected 'sigmoid', 'dice' or 'prelu'"
            )


@dataclass(frozen=True)
class DIENConfig(DINConfig):
    """`gru_size` None means the item vector size (36 in the paper: two fields of 18). `gate` picks
    how attention steers the interest-evolving GRU. `auxiliary_weight` scales the auxiliary loss
    (0 drops it); `auxiliary_sizes` are the hidden layers of its sigmoid MLP."""

    name: str = "dien"
    gru_size: int | None = None
    gate: Gate = "augru"
    auxiliary_weight: float = 1.0
    auxiliary_sizes: tuple[int, ...] = (100, 50)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.gru_size is not None and self.gru_size < 1:
            raise ConfigError(f"model.gru_size={self.gru_size!r}: expected a positive integer or null")
        if self.gate not in ("aigru", "agru", "augru"):
            raise ConfigError(f"model.gate={self.gate!r}: expected 'aigru', 'agru' or 'augru'")
        if self.auxiliary_weight < 0:
            raise ConfigError(f"model.auxiliary_weight={self.auxiliary_weight!r}: expected a value >= 0")
        if any(size < 1 for size in self.auxiliary_sizes):
            raise ConfigError("model.auxiliary_sizes must be positive integers")


@dataclass(frozen=True)
class BSTConfig(CTRModelConfig):
    """Behaviour Sequence Transformer: `num_layers` blocks of `num_heads` heads over the item
    vectors (whose size `num_heads` must divide) with a feed-forward layer `inner_multiple` times
    wider. The paper uses one block; its eight heads do not divide 18-wide fields. `moe` replaces
    each block's feed-forward layer by a sparse mixture of experts (`model.moe.num_experts` > 0)."""

    name: str = "bst"
    num_layers: int = 1
    num_heads: int = 2
    inner_multiple: int = 4
    moe: MixtureOfExpertsConfig = field(default_factory=MixtureOfExpertsConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_layers < 1 or self.num_heads < 1 or self.inner_multiple < 1:
            raise ConfigError("model.num_layers, model.num_heads and model.inner_multiple must be positive integers")
