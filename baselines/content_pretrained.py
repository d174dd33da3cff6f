"""Content-based recommendation with a pretrained text encoder: each item is the embedding of its
document (`dynint.data.item_content`: title, year, genres, categories, description, ...), a user
the recency-weighted mean of their history's embeddings, candidates scored by cosine to it.

Like the TF-IDF `content` baseline it needs no interaction of a candidate, so it ranks items
never seen in training (the item cold-start split). Attribute ids (the S3-Rec Amazon files) are
no text, so on such data sets it fails and names the alternative.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from baselines.base import Baseline, FitData
from baselines.recency import HistoryWeights, RecencyConfig
from dynint.data.item_content import documents_from_features
from dynint.data.ragged import Ragged
from dynint.errors import ConfigError
from dynint.pretrained.defaults import DEFAULT_TEXT_MODEL

if TYPE_CHECKING:  # the encoder brings in JAX; it is imported when a model is fitted
    from dynint.pretrained import TextEmbedder


@dataclass(frozen=True)
class PretrainedContentConfig:
    """`encoder`: a default checkpoint name (`all-MiniLM-L6-v2`, `SmolLM2-135M-Instruct`), a Hugging
    Face checkpoint folder or a `.gguf` file; `pooling` overrides the checkpoint's own ("mean",
    "cls", "last", optionally "+normalize"); `dtype` the compute precision. `fields` names the item
    features the documents are made of (empty: every text field and token field of words).
    `cache_dir` holds the embeddings (None: `$DYNINT_CACHE_DIR` or `~/.cache/dynint/embeddings`);
    `batch_size` bounds memory only."""

    name: str = "content-pretrained"
    encoder: str = DEFAULT_TEXT_MODEL
    pooling: str | None = None
    dtype: Literal["float32", "bfloat16"] = "float32"
    fields: tuple[str, ...] = ()
    batch_size: int = 64
    cache_dir: str | None = None
    recency: RecencyConfig = field(default_factory=RecencyConfig)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"batch_size={self.batch_size!r}: expected a positive integer")


class PretrainedContent(Baseline):
    """Cosine between the user's vector (recency-weighted mean of history item embeddings) and each
    candidate's L2-normalised embedding. Items with an empty document score 0.

    `embedder`, when given, replaces the one `config.encoder` names (an already loaded model).
    """

    def __init__(self, config: PretrainedContentConfig, embedder: TextEmbedder | None = None):
        super().__init__(config)
        self._embedder = embedder

    def fit(self, data: FitData) -> PretrainedContent:
        from dynint.pretrained import encode_texts, load_text_embedder

        config = self.config
        try:
            documents = documents_from_features(data.item_features, data.num_items, config.fields or None)
        except ConfigError as error:
            raise ConfigError(
                f"model {config.name!r} embeds item documents with a text model: {error}. "
                "Attribute ids are not text; the TF-IDF baseline `content` uses them"
            ) from None
        embedder = self._embedder or load_text_embedder(config.encoder, pooling=config.pooling, dtype=config.dtype)
        described = np.flatnonzero([bool(document) for document in documents])
        vectors = np.zeros((data.num_items + 1, embedder.dimension), dtype=np.float32)
        vectors[described] = encode_texts(
            embedder, [documents[i] for i in described], batch_size=config.batch_size, cache_dir=config.cache_dir
        )
        self.vectors = unit_rows(vectors)
        self._weights = HistoryWeights(config.recency, data)
        return self

    def score(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        return self._user_vectors(users, histories) @ self.vectors[np.asarray(items)].T

    def score_pairs(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        return np.einsum("rd,rd->r", self._user_vectors(users, histories), self.vectors[np.asarray(items)])

    def _user_vectors(self, users: np.ndarray, histories: Ragged) -> np.ndarray:
        weights = self._weights.matrix(users, histories, self.vectors.shape[0])
        return unit_rows(np.asarray(weights @ self.vectors, dtype=np.float32))


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit Euclidean length; all-zero rows stay zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)
