"""A CTR model (BaseModel, DIN, DIEN, BST) as a scorer of any items after any history, so that a
trained click model can rank the whole catalogue for `recommend` and `explain`.

A CTR model reads one (history, target) pair per row, so scoring `I` items after a history is
`I` rows with the same history: the history's last `max_length` items, left-aligned and cut to
the longest history of the call (as the CTR protocol's samples are), its feature tokens looked
up as in training. The score is the click logit. History negatives (read only by DIEN's
auxiliary loss in training) are padding.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import numpy as np
from flax import nnx

from dynint.data.ctr_samples import CTRBatch
from dynint.data.ragged import Ragged
from dynint.train.windows import last_items, left_aligned

ROWS_PER_CALL = 1024
"""Items scored per call of the compiled model (a power of two; fewer compiled shapes)."""


class CTRCatalogueScorer:
    """`score(users, histories, items)`: `(len(histories), len(items))` click logits (see the
    module notes). Users are not read: a CTR model knows a user only by the history."""

    def __init__(self, graphdef: Any, params: Any, item_tokens: dict[str, np.ndarray], max_length: int):
        self.graphdef, self.params = graphdef, params
        self.item_tokens = item_tokens
        self.max_length = max_length

    def score(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        windows = last_items(histories, self.max_length)
        width = max(int(windows.lengths.max(initial=0)), 1)
        aligned = left_aligned(windows, width)
        items = np.asarray(items, dtype=np.int32)
        scores = np.empty((len(histories), len(items)), dtype=np.float64)
        for row, history in enumerate(aligned):
            for start in range(0, len(items), ROWS_PER_CALL):
                chunk = items[start : start + ROWS_PER_CALL]
                size = min(ROWS_PER_CALL, 1 << (len(chunk) - 1).bit_length())
                targets = np.concatenate([chunk, np.full(size - len(chunk), chunk[-1], dtype=np.int32)])
                logits = _logits(self.graphdef, self.params, self._batch(history, targets))
                scores[row, start : start + len(chunk)] = np.asarray(logits)[: len(chunk)]
        return scores

    def has_target_attention(self) -> bool:
        """Whether the model weighs each behaviour against the target (DIN, DIEN)."""
        return hasattr(nnx.merge(self.graphdef, self.params), "attention_weights")

    def target_attention(self, history: np.ndarray, items: np.ndarray) -> np.ndarray:
        """`(len(items), window)`: the weight the model's target attention gives each of the
        history's last `max_length` items (oldest first) when the target is each of `items`."""
        window = np.asarray(history)[-self.max_length :]
        targets = np.asarray(items, dtype=np.int32)
        weights = _attention_weights(self.graphdef, self.params, self._batch(window.astype(np.int32), targets))
        return np.asarray(weights, dtype=np.float64)[:, : len(window)]

    def _batch(self, history: np.ndarray, targets: np.ndarray) -> CTRBatch:
        histories = np.broadcast_to(history, (len(targets), len(history)))
        padding = np.zeros_like(histories)
        tokens = self.item_tokens
        return CTRBatch(
            histories=histories,
            history_tokens={name: table[histories] for name, table in tokens.items()},
            targets=targets,
            target_tokens={name: table[targets] for name, table in tokens.items()},
            history_negatives=padding,
            negative_tokens={name: table[padding] for name, table in tokens.items()},
            labels=np.zeros(len(targets), dtype=np.float32),
        )


@partial(jax.jit, static_argnums=0)
def _logits(graphdef: Any, params: Any, batch: CTRBatch) -> jax.Array:
    return nnx.merge(graphdef, params)(batch)[0]


@partial(jax.jit, static_argnums=0)
def _attention_weights(graphdef: Any, params: Any, batch: CTRBatch) -> jax.Array:
    return nnx.merge(graphdef, params).attention_weights(batch)
