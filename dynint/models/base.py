"""What every sequential model shares: its config fields, its training objective, and its interface.

A model maps left-aligned item sequences `(B, L)` (0 = padding; `TimedItems`, ids with event times,
for a model whose `uses_event_times` is true) to hidden states `(B, L, d)`
and scores items by the dot product of a hidden state with rows of `output_table()`. The
training engine never looks further inside a model. Models are built as
`Model(config, num_items, max_length, rngs=..., content=None)`: `content` (`ItemContent`) carries
the item text vectors or attribute bags that `config.items` asks for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

import jax
from flax import nnx

from dynint.errors import ConfigError
from dynint.models.dropout import DropoutKeys
from dynint.models.item_representation import ItemRepresentationConfig
from dynint.models.losses import LOSSES, LossName
from dynint.models.mixture_of_experts import MixtureOfExpertsConfig

EMBEDDING_INIT = nnx.initializers.normal(stddev=0.02)


class TimedItems(NamedTuple):
    """The input of a model that reads event times (`uses_event_times`): left-aligned item ids
    `(B, L)` and each event's time `(B, L)` int32, in seconds since the row's first event (so
    differences are exact; padding 0). Models without it take the item ids alone."""

    items: jax.Array
    times: jax.Array


@dataclass(frozen=True)
class SequentialModelConfig:
    """Fields every sequential model has. `loss` is one of `LOSSES`; `num_negatives` (per position)
    applies to `sampled-softmax` and `gbce`, `gbce_t` (the calibration t) to `gbce` only. `items`
    says how items become vectors (`model.items.kind`: ids, text, attributes; see
    `ItemRepresentationConfig`)."""

    name: str = ""
    hidden_size: int = 64
    dropout: float = 0.2
    loss: LossName = "ce"
    num_negatives: int = 1
    gbce_t: float = 0.75
    items: ItemRepresentationConfig = field(default_factory=ItemRepresentationConfig)

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ConfigError(f"model.loss={self.loss!r}: expected one of {', '.join(LOSSES)}")
        if self.hidden_size < 1 or self.num_negatives < 1:
            raise ConfigError("model.hidden_size and model.num_negatives must be positive integers")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout={self.dropout!r}: expected a rate in [0, 1)")
        if not 0.0 <= self.gbce_t <= 1.0:
            raise ConfigError(f"model.gbce_t={self.gbce_t!r}: expected a value in [0, 1]")


@dataclass(frozen=True)
class TransformerConfig(SequentialModelConfig):
    """A stack of self-attention blocks; `attention_dropout` None means `dropout`. `norm="pre"`
    normalises each sub-layer's input (and the stack's output), `"post"` each residual sum.
    `position_origin="last"` numbers positions back from the most recent item (what the original
    SASRec's right-aligned windows amount to), `"first"` forward from the oldest item.
    `attention_output_dropout` applies dropout to the attention sub-layer's output before its
    residual sum, as BERT does; the original SASRec applies none there. Item and position
    embeddings start from a normal with `embedding_init_std`; `scale_item_embeddings` multiplies
    the input item embeddings by sqrt(hidden_size), as the original SASRec does (the output table
    is not scaled). `moe` replaces each block's feed-forward layer by a sparse mixture of experts
    (`model.moe.num_experts` > 0; see `MixtureOfExpertsConfig`)."""

    num_layers: int = 2
    num_heads: int = 2
    inner_size: int = 256
    attention_dropout: float | None = None
    norm: Literal["pre", "post"] = "pre"
    activation: Literal["gelu", "relu"] = "gelu"
    position_origin: Literal["last", "first"] = "last"
    attention_output_dropout: bool = True
    embedding_init_std: float = 0.02
    scale_item_embeddings: bool = False
    moe: MixtureOfExpertsConfig = field(default_factory=MixtureOfExpertsConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"model.hidden_size={self.hidden_size} must be divisible by model.num_heads={self.num_heads}"
            )
        if self.norm not in ("pre", "post"):
            raise ConfigError(f"model.norm={self.norm!r}: expected 'pre' or 'post'")
        if self.activation not in ("gelu", "relu"):
            raise ConfigError(f"model.activation={self.activation!r}: expected 'gelu' or 'relu'")
        if not self.embedding_init_std > 0:
            raise ConfigError(f"model.embedding_init_std={self.embedding_init_std!r}: expected a positive number")
        if self.position_origin not in ("last", "first"):
            raise ConfigError(f"model.position_origin={self.position_origin!r}: expected 'last' or 'first'")


@dataclass(frozen=True)
class NextItemObjective:
    """Predict item `t + 1` from the items up to `t`, at every real position."""


@dataclass(frozen=True)
class ClozeObjective:
    """Replace each item by `mask_token` with probability `mask_probability` (at least one per
    sequence) and predict the replaced items; at inference a `mask_token` follows the history."""

    mask_probability: float
    mask_token: int


Objective = NextItemObjective | ClozeObjective


class SequenceModel(Protocol):
    objective: Objective

    def __call__(
        self, inputs: jax.Array, *, dropout: DropoutKeys | None = None, positions: jax.Array | None = None
    ) -> jax.Array:
        """Hidden states `(B, L, d)`, or `(B, d)` at one position per row if `positions` `(B,)`
        is given (what scoring needs; a model may skip work for the other positions). Dropout is
        active only when `dropout` keys are given."""
        ...

    def output_table(self) -> jax.Array:
        """The `(num_items + 1, d)` item vectors scores are dot products with (row 0: padding):
        every item's, those no training event mentions included."""
        ...
