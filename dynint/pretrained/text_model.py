"""What every pretrained text model offers the rest of dynint: tokenize, then embed token ids.

An encoder (BERT family) or a decoder LLM (Llama family) implements `TextEmbedder`; batching,
length bucketing, jit compilation, progress and the on-disk cache (`pretrained/encoding.py`) are
written once against this protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import jax


class TextEmbedder(Protocol):
    """A loaded checkpoint that turns texts into one vector each.

    `fingerprint` identifies the weights (the SHA-256 of the weight file or files), `pooling` the
    way hidden states become a vector ("mean", "cls", "last", plus "+normalize" where the vector
    is L2-normalised); together with the text they key the embedding cache. `max_length` is the
    longest token sequence the model reads (longer ones are truncated by `tokenize`). An embedder
    may also name its compute dtype in `dtype` ("float32" when absent), which keys the cache too.
    """

    name: str
    fingerprint: str
    pooling: str
    max_length: int
    dimension: int

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, truncated to `max_length`, special tokens included as the model expects."""
        ...

    def embed_tokens(self, token_ids: jax.Array, valid: jax.Array) -> jax.Array:
        """`(B, L)` token ids (padding anywhere `valid` is False) -> `(B, dimension)` float32 vectors.
        A pure function of the weights and its inputs. `encode_texts` jit-compiles it with the
        weights as arguments when the embedder is an `nnx.Module`; any other embedder compiles it
        itself (as `LlamaEmbedder` does), since a jitted closure would bake the weights in as constants."""
        ...
