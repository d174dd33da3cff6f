"""How a model turns item ids into vectors: one component, chosen by `model.items`, for every family.

- `id`: a learned vector per item, as every model had before item content existed.
- `text-init`: the id table starts from the items' pretrained text vectors projected to the
  hidden size (`pca`: top principal directions, scaled to the id init's std; `learned`: a
  trained projection of the frozen text vectors plus a per-item offset that starts at zero),
  then trains as ids.
- `text-adaptor`: no id table; frozen text vectors through UniSRec's mixture of
  parametric-whitening adaptors (Hou et al., KDD 2022), so every item with text has a vector,
  trained on or not.
- `id+text`, `id+attributes`: the id vector fused (`gated` or `concat`) with the adapted text
  vector, or with the mean embedding of the item's attribute tokens.

Content a model reads but never trains lives in state leaves named `frozen_*` (`FROZEN_PREFIX`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from dynint.errors import ConfigError
from dynint.models.dropout import Dropout, DropoutKeys

ItemKind = Literal["id", "text-init", "text-adaptor", "id+text", "id+attributes"]
ITEM_KINDS: tuple[str, ...] = ("id", "text-init", "text-adaptor", "id+text", "id+attributes")
TEXT_KINDS: tuple[str, ...] = ("text-init", "text-adaptor", "id+text")
# Attribute ids are stored as float32 (the train step differentiates every array of the model
# state, and jax.grad takes no integer arrays); float32 holds integers exactly below 2**24.
_MAX_EXACT_ID = 2**24

FROZEN_PREFIX = "frozen_"
"""A model-state leaf whose name starts with this is an input the model reads but never trains
(pretrained item content): the optimizer gives it no state and no update."""


def is_frozen(name: str) -> bool:
    """Whether a model-state key names frozen content (see `FROZEN_PREFIX`)."""
    return str(name).startswith(FROZEN_PREFIX)


@dataclass(frozen=True)
class ItemRepresentationConfig:
    """`model.items`. `encoder` names the pretrained text model (a known name, a local BERT-family
    folder or a .gguf file) and `encoder_pooling` its pooling (None: the checkpoint's own).
    `init_projection` is text-init's projection; `adaptor_experts` and `adaptor_dropout` size
    the whitening adaptor of `text-adaptor` and `id+text`; `fusion` joins the id vector with the
    content vector in `id+text` and `id+attributes`. `table_rows_multiple` pads the per-item
    tables (ids, frozen content) with zero rows to a multiple of that many rows, so they split
    evenly over a model-parallel mesh axis (runs set it from `train.model_parallelism`); the
    padding rows are never looked up and never scored."""

    kind: ItemKind = "id"
    fusion: Literal["gated", "concat"] = "gated"
    encoder: str = "all-MiniLM-L6-v2"
    encoder_pooling: str | None = None
    init_projection: Literal["pca", "learned"] = "pca"
    adaptor_experts: int = 8
    adaptor_dropout: float = 0.1
    table_rows_multiple: int = 1

    def __post_init__(self) -> None:
        if self.kind not in ITEM_KINDS:
            raise ConfigError(f"model.items.kind={self.kind!r}: expected one of {', '.join(ITEM_KINDS)}")
        if self.fusion not in ("gated", "concat"):
            raise ConfigError(f"model.items.fusion={self.fusion!r}: expected 'gated' or 'concat'")
        if self.init_projection not in ("pca", "learned"):
            raise ConfigError(f"model.items.init_projection={self.init_projection!r}: expected 'pca' or 'learned'")
        if self.adaptor_experts < 1:
            raise ConfigError(f"model.items.adaptor_experts={self.adaptor_experts!r}: expected a positive integer")
        if not 0.0 <= self.adaptor_dropout < 1.0:
            raise ConfigError(f"model.items.adaptor_dropout={self.adaptor_dropout!r}: expected a rate in [0, 1)")
        if not self.encoder:
            raise ConfigError("model.items.encoder: expected a pretrained text model name or path")
        if self.table_rows_multiple < 1:
            raise ConfigError(
                f"model.items.table_rows_multiple={self.table_rows_multiple!r}: expected a positive count"
            )

    @property
    def uses_text(self) -> bool:
        return self.kind in TEXT_KINDS

    @property
    def uses_attributes(self) -> bool:
        return self.kind == "id+attributes"


@dataclass(frozen=True)
class ItemContent:
    """What a run knows about its items besides their ids, built once and handed to the model.

    `text` `(num_items + 1, d_text)` float32: a pretrained vector per item document (row 0: the
    padding item). `attributes` `(num_items + 1, A)` int: each item's attribute ids in one id
    space, left-aligned and 0-padded; `attribute_vocab_size` counts id 0.
    """

    text: np.ndarray | None = None
    attributes: np.ndarray | None = None
    attribute_vocab_size: int = 0

    def __post_init__(self) -> None:
        if self.text is not None and (self.text.ndim != 2 or not np.issubdtype(self.text.dtype, np.floating)):
            raise ValueError(f"ItemContent.text: expected a 2-D float array, got {self.text.dtype} {self.text.shape}")
        if self.attributes is None:
            return
        if self.attributes.ndim != 2 or not np.issubdtype(self.attributes.dtype, np.integer):
            raise ValueError(
                f"ItemContent.attributes: expected a 2-D int array, got {self.attributes.dtype} {self.attributes.shape}"
            )
        top = int(self.attributes.max(initial=0))
        if not top < self.attribute_vocab_size <= _MAX_EXACT_ID or self.attributes.min(initial=0) < 0:
            raise ValueError(
                f"ItemContent.attribute_vocab_size={self.attribute_vocab_size}: expected ids in "
                f"0..attribute_vocab_size - 1 (largest id {top}) and a size up to {_MAX_EXACT_ID}"
            )

    def check(self, config: ItemRepresentationConfig, num_items: int) -> None:
        """Fail unless this content has what `config.kind` needs, one row per item and padding."""
        needed = {"text": config.uses_text, "attributes": config.uses_attributes}
        for name, wanted in needed.items():
            array = getattr(self, name)
            if wanted and array is None:
                raise ConfigError(f"model.items.kind={config.kind!r} needs item {name}; the run has none")
            if wanted and len(array) != num_items + 1:
                raise ValueError(f"ItemContent.{name} has {len(array)} rows; expected num_items + 1 = {num_items + 1}")


def pca_projection(vectors: np.ndarray, size: int) -> np.ndarray:
    """`vectors` `(N, d)` centred and projected on their top `min(size, d, N)` principal directions."""
    centred = vectors.astype(np.float64) - vectors.mean(axis=0, dtype=np.float64)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    return centred @ directions[:size].T


class FrozenContent(nnx.Variable):
    """Item content a model reads but never trains (held in a `frozen_*` attribute)."""


class WhiteningAdaptor(nnx.Module):
    """UniSRec's MoE adaptor: `sum_k g_k(x) (x - b_k) W_k` with `g = softmax(x G)`; each expert is a
    parametric whitening (a learned bias, then a projection), dropout applies to its input.
    The gate starts at zero (experts equally weighted), as in the UniSRec code."""

    def __init__(
        self, input_size: int, output_size: int, experts: int, dropout: float, init_std: float, *, rngs: nnx.Rngs
    ):
        init = nnx.initializers.normal(stddev=init_std)
        self.bias = nnx.Param(jnp.zeros((experts, input_size)))
        self.projection = nnx.Param(init(rngs.params(), (experts, input_size, output_size)))
        self.gate = nnx.Param(jnp.zeros((input_size, experts)))
        self.dropout = Dropout(dropout)

    def __call__(self, x: jax.Array, dropout: DropoutKeys | None = None) -> jax.Array:
        """`(..., input_size)` -> `(..., output_size)`."""
        gates = jax.nn.softmax(x @ self.gate[...], axis=-1)
        projection = self.projection[...]
        # (x - b_k) W_k = x W_k - b_k W_k: one product of x with every expert's projection.
        experts = jnp.einsum("...d,kdh->...kh", self.dropout(x, dropout), projection)
        experts = experts - jnp.einsum("kd,kdh->kh", self.bias[...], projection)
        return jnp.einsum("...k,...kh->...h", gates, experts)


class Fusion(nnx.Module):
    """Joins an id vector and a content vector of the same size: `gated`, a per-unit sigmoid gate
    `g * id + (1 - g) * content` computed from both; `concat`, a linear layer over both."""

    def __init__(self, mode: str, size: int, *, rngs: nnx.Rngs):
        self.mode = mode
        self.layer = nnx.Linear(2 * size, size, rngs=rngs)

    def __call__(self, ids: jax.Array, content: jax.Array) -> jax.Array:
        joined = self.layer(jnp.concatenate([ids, content], axis=-1))
        if self.mode == "concat":
            return joined
        gate = jax.nn.sigmoid(joined)
        return gate * ids + (1.0 - gate) * content


class ItemRepresentation(nnx.Module):
    """Item vectors `(..., hidden_size)` for ids `0..num_items + extra_tokens`, under `config.kind`.

    `extra_tokens` rows follow the items (BERT4Rec's mask token): learned vectors without
    content. `table()` covers the items only (row 0: padding), so a next-item model scores every
    item through it, cold ones included. With `kind="id"` the parameters are one table named
    `embedding`, drawn as `nnx.Embed` draws it, so id models keep their parameters.
    """

    def __init__(
        self,
        config: ItemRepresentationConfig,
        num_items: int,
        hidden_size: int,
        content: ItemContent | None = None,
        *,
        rngs: nnx.Rngs,
        init_std: float = 0.02,
        extra_tokens: int = 0,
    ):
        if config.kind != "id":
            if content is None:
                raise ConfigError(f"model.items.kind={config.kind!r} needs item content; the model was given none")
            content.check(config, num_items)
        self.kind = config.kind
        self.num_items = num_items
        self.extra_tokens = extra_tokens
        vocabulary = num_items + 1 + extra_tokens
        init = nnx.initializers.normal(stddev=init_std)
        pca = config.kind == "text-init" and config.init_projection == "pca"
        learned = config.kind == "text-init" and config.init_projection == "learned"
        padding = -vocabulary % config.table_rows_multiple  # zero rows; drawn after the real ones, so no value changes
        if pca:
            self.embedding = nnx.Param(
                _with_rows(_pca_table(init(rngs.params(), (vocabulary, hidden_size)), content.text, init_std), padding)
            )
        elif learned:  # a projection of the text plus a per-item offset that starts at zero
            self.embedding = nnx.Param(jnp.zeros((vocabulary + padding, hidden_size)))
        elif config.kind != "text-adaptor":
            self.embedding = nnx.Param(_with_rows(init(rngs.params(), (vocabulary, hidden_size)), padding))
        if config.uses_text and not pca:
            # Content rows for the extra tokens are zeros; those tokens get learned vectors instead.
            self.frozen_text = FrozenContent(_with_rows(content.text.astype(np.float32), extra_tokens + padding))
        self.projection = nnx.Linear(content.text.shape[1], hidden_size, rngs=rngs) if learned else None
        self.adaptor = (
            WhiteningAdaptor(
                content.text.shape[1],
                hidden_size,
                config.adaptor_experts,
                config.adaptor_dropout,
                init_std,
                rngs=rngs,
            )
            if config.kind in ("text-adaptor", "id+text")
            else None
        )
        with_extra = config.kind == "text-adaptor" and extra_tokens
        self.extra = nnx.Param(init(rngs.params(), (extra_tokens, hidden_size))) if with_extra else None
        if config.uses_attributes:
            self.frozen_attributes = FrozenContent(
                _with_rows(content.attributes, extra_tokens + padding).astype(np.float32)
            )
            self.attribute_embedding = nnx.Param(init(rngs.params(), (content.attribute_vocab_size, hidden_size)))
        self.fusion = (
            Fusion(config.fusion, hidden_size, rngs=rngs) if config.kind in ("id+text", "id+attributes") else None
        )

    def __call__(self, item_ids: jax.Array, dropout: DropoutKeys | None = None) -> jax.Array:
        """`(...)` ids -> `(..., hidden_size)`; dropout (the adaptor's) only with `dropout` keys."""
        if self.kind == "id":  # nnx.Embed's lookup, unchanged
            return jnp.take(self.embedding[...], item_ids, axis=0)
        vocabulary = self.num_items + 1 + self.extra_tokens
        # Without dropout every id once, then a lookup, is fewer rows to compute; with dropout each
        # occurrence draws its own mask (as UniSRec does), so the result does not depend on the batch.
        if dropout is None and item_ids.size > vocabulary:
            return jnp.take(self._vectors(jnp.arange(vocabulary), None), item_ids, axis=0)
        return self._vectors(item_ids, dropout)

    def table(self) -> jax.Array:
        """`(num_items + 1, hidden_size)`: every item's vector, row 0 the padding item's."""
        if self.kind == "id":
            return self.embedding[: self.num_items + 1]
        return self._vectors(jnp.arange(self.num_items + 1), None)

    def _vectors(self, item_ids: jax.Array, dropout: DropoutKeys | None) -> jax.Array:
        if self.kind == "text-adaptor":
            vectors = self.adaptor(self._text(item_ids), dropout)
            if self.extra is not None:
                extra = jnp.take(self.extra[...], jnp.maximum(item_ids - self.num_items - 1, 0), axis=0)
                vectors = jnp.where((item_ids > self.num_items)[..., None], extra, vectors)
            return vectors
        ids = jnp.take(self.embedding[...], item_ids, axis=0)
        if self.kind == "text-init":
            return ids if self.projection is None else ids + self.projection(self._text(item_ids))
        if self.kind == "id+text":
            return self.fusion(ids, self.adaptor(self._text(item_ids), dropout))
        return self.fusion(ids, self._attributes(item_ids))

    def _text(self, item_ids: jax.Array) -> jax.Array:
        return jax.lax.stop_gradient(jnp.take(self.frozen_text[...], item_ids, axis=0))

    def _attributes(self, item_ids: jax.Array) -> jax.Array:
        """The mean embedding of each item's attribute tokens (zeros for an item without any)."""
        tokens = jax.lax.stop_gradient(jnp.take(self.frozen_attributes[...], item_ids, axis=0)).astype(jnp.int32)
        valid = (tokens != 0)[..., None]
        total = jnp.sum(jnp.where(valid, jnp.take(self.attribute_embedding[...], tokens, axis=0), 0.0), axis=-2)
        return total / jnp.maximum(jnp.sum(valid, axis=-2), 1)


def _pca_table(table: jax.Array, text: np.ndarray, init_std: float) -> jax.Array:
    """`table` with its item rows (1..N) replaced, in their first columns, by the items' text
    vectors projected on their principal directions and scaled to `init_std`; the padding row,
    the extra tokens' rows and any columns beyond the text's rank keep their random init."""
    projected = pca_projection(text[1:], table.shape[1])
    projected *= init_std / max(float(projected.std()), 1e-12)
    return table.at[1 : len(text), : projected.shape[1]].set(projected.astype(np.float32))


def _with_rows(array: np.ndarray | jax.Array, count: int) -> np.ndarray | jax.Array:
    """`array` with `count` zero rows appended."""
    if not count:
        return array
    xp = np if isinstance(array, np.ndarray) else jnp
    return xp.concatenate([array, xp.zeros((count, *array.shape[1:]), array.dtype)])
