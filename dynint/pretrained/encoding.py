"""Encode a list of texts with any `TextEmbedder`: batched, length-bucketed, jit-compiled, cached.

Texts are tokenized, grouped by padded length (powers of two up to the model's `max_length`, so
a catalogue compiles a handful of programs), and embedded a batch at a time. Each vector is
cached on disk under the embedder's fingerprint, pooling, `max_length` and compute dtype and the
SHA-256 of its text, so a second run over the same texts reads them back.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from dynint.errors import ConfigError, DataFormatError
from dynint.pretrained.bert import BERT_MODEL_TYPES, load_bert_embedder
from dynint.pretrained.defaults import DEFAULT_CHECKPOINTS, DEFAULT_TEXT_MODEL, default_checkpoint_path
from dynint.pretrained.safetensors_checkpoint import read_model_config
from dynint.pretrained.text_model import TextEmbedder

CACHE_DIR_ENV = "DYNINT_CACHE_DIR"
DEFAULT_CACHE_DIR = Path("~/.cache/dynint/embeddings")
MIN_BUCKET_LENGTH = 8
_LLAMA_MODEL_TYPES = ("llama",)


def default_cache_dir() -> Path:
    """`$DYNINT_CACHE_DIR` when set, else `~/.cache/dynint/embeddings`."""
    return Path(os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR).expanduser()


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def bucket_length(length: int, max_length: int) -> int:
    """The padded length of a batch whose longest text has `length` tokens: the next power of two
    (at least `MIN_BUCKET_LENGTH`), capped at `max_length`."""
    if length > max_length:
        raise ValueError(f"a tokenized text has {length} tokens, more than the embedder's max_length {max_length}")
    bucket = MIN_BUCKET_LENGTH
    while bucket < length:
        bucket *= 2
    return min(bucket, max_length)


ENCODING_VERSION = 1
"""Raise when a change to the encoders or pooling changes the vectors they compute, so that no
cache written before is read back."""


class EmbeddingCache:
    """Vectors of one embedder configuration, in `.npz` shards of (text keys, vectors) under
    `root/FINGERPRINT/POOLING-MAXLEN-DTYPE-COMPANIONS-vVERSION/`. Each run that encodes new texts adds one shard,
    written to a temporary file and renamed, so concurrent or interrupted runs never leave a
    partial shard behind."""

    def __init__(self, root: Path, embedder: TextEmbedder):
        dtype = getattr(embedder, "dtype", "float32")
        # The config and tokenizer files beside the weights and the encoding code's version also
        # decide the vectors, so they key the cache too.
        companions = getattr(embedder, "companion_digest", "")[:16] or "none"
        setting = f"{embedder.pooling}-{embedder.max_length}-{dtype}-{companions}-v{ENCODING_VERSION}"
        self.folder = root / embedder.fingerprint / setting
        self.dimension = embedder.dimension

    def read(self) -> dict[str, np.ndarray]:
        vectors: dict[str, np.ndarray] = {}
        for shard in sorted(self.folder.glob("shard-*.npz")):
            with np.load(shard, allow_pickle=False) as arrays:
                keys, rows = arrays["keys"], arrays["vectors"]
                if rows.shape != (len(keys), self.dimension):
                    expected = (len(keys), self.dimension)
                    raise DataFormatError(shard, f"cached vectors have shape {rows.shape}, expected {expected}")
                vectors.update(zip(keys.tolist(), rows, strict=True))
        return vectors

    def write(self, keys: Sequence[str], vectors: np.ndarray) -> Path:
        shard_id = hashlib.sha256("".join(keys).encode()).hexdigest()[:24]
        path = self.folder / f"shard-{shard_id}.npz"
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=self.folder, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez(stream, keys=np.asarray(keys, dtype="U64"), vectors=vectors.astype(np.float32))
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return path


@partial(jax.jit, static_argnums=0)
def _embed_module(graphdef: nnx.GraphDef, state: nnx.State, token_ids: jax.Array, valid: jax.Array) -> jax.Array:
    return nnx.merge(graphdef, state).embed_tokens(token_ids, valid)


def compiled_embed(embedder: TextEmbedder) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """`embedder.embed_tokens`, compiled. An NNX-module embedder is split and its weights passed to
    the jitted function as arguments; any other embedder compiles `embed_tokens` itself (wrapping
    it here would bake its weights into the program as constants, slow to compile for large models)."""
    if isinstance(embedder, nnx.Module):
        graphdef, state = nnx.split(embedder)
        return partial(_embed_module, graphdef, state)
    return embedder.embed_tokens


def _batches(lengths: np.ndarray, batch_size: int, max_length: int) -> list[tuple[np.ndarray, int, int]]:
    """(text indices, padded rows, padded length) per batch: texts grouped by bucket length, then
    cut into `batch_size` rows; a bucket's last batch pads its rows to a power of two."""
    buckets = np.asarray([bucket_length(int(n), max_length) for n in lengths], dtype=np.int64)
    batches = []
    for length in np.unique(buckets):
        members = np.flatnonzero(buckets == length)
        for start in range(0, len(members), batch_size):
            chunk = members[start : start + batch_size]
            rows = min(batch_size, 1 << (len(chunk) - 1).bit_length())
            batches.append((chunk, rows, int(length)))
    return batches


def encode_texts(
    embedder: TextEmbedder,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> np.ndarray:
    """`(len(texts), embedder.dimension)` float32 vectors, in the order of `texts`.

    Vectors already in the cache (`cache_dir`, else `default_cache_dir()`) are read back; the rest
    are computed in length buckets and added to it. Equal texts are encoded once.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size={batch_size!r}: expected a positive integer")
    keys = [text_key(text) for text in texts]
    cache = EmbeddingCache(Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir(), embedder)
    known = cache.read()
    missing = list(dict.fromkeys(key for key in keys if key not in known))
    if missing:
        text_of = dict(zip(keys, texts, strict=True))
        computed = _embed_all(embedder, [text_of[key] for key in missing], batch_size, progress)
        cache.write(missing, computed)
        known.update(zip(missing, computed, strict=True))
    if not keys:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.stack([known[key] for key in keys]).astype(np.float32, copy=False)


def _embed_all(embedder: TextEmbedder, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
    token_lists = embedder.tokenize(texts)
    lengths = np.asarray([len(ids) for ids in token_lists])
    embed = compiled_embed(embedder)
    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    with tqdm(total=len(texts), unit="text", desc=f"encoding with {embedder.name}", disable=not progress) as bar:
        for chunk, rows, length in _batches(lengths, batch_size, embedder.max_length):
            token_ids = np.zeros((rows, length), dtype=np.int32)
            valid = np.zeros((rows, length), dtype=bool)
            for row, index in enumerate(chunk):
                token_ids[row, : lengths[index]] = token_lists[index]
                valid[row, : lengths[index]] = True
            pooled = embed(jnp.asarray(token_ids), jnp.asarray(valid))
            vectors[chunk] = np.asarray(pooled, dtype=np.float32)[: len(chunk)]
            bar.update(len(chunk))
    return vectors


def load_text_embedder(
    path_or_name: str = DEFAULT_TEXT_MODEL, *, pooling: str | None = None, dtype: str = "float32"
) -> TextEmbedder:
    """A text embedder from a default checkpoint's name ("all-MiniLM-L6-v2", "SmolLM2-135M-Instruct"),
    a Hugging Face folder (its `config.json` `model_type` picks BERT or Llama) or a `.gguf` file.
    `pooling` overrides the checkpoint's own; `dtype="bfloat16"` computes in bfloat16."""
    name = path_or_name if path_or_name in DEFAULT_CHECKPOINTS else None
    path = default_checkpoint_path(path_or_name) if name else Path(path_or_name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return _load_llama(path, pooling, dtype)
    if not path.is_dir():
        raise ConfigError(
            f"text model {path_or_name!r}: not a checkpoint folder, a .gguf file or one of "
            f"{', '.join(DEFAULT_CHECKPOINTS)}"
        )
    model_type = read_model_config(path).get("model_type")
    if model_type in BERT_MODEL_TYPES:
        return load_bert_embedder(path, pooling=pooling, dtype=dtype, name=name)
    if model_type in _LLAMA_MODEL_TYPES:
        return _load_llama(path, pooling, dtype)
    raise ConfigError(
        f"{path / 'config.json'}: model_type={model_type!r} is not supported "
        f"(expected one of {', '.join(BERT_MODEL_TYPES + _LLAMA_MODEL_TYPES)})"
    )


def _load_llama(path: Path, pooling: str | None, dtype: str) -> TextEmbedder:
    from dynint.pretrained.llama import load_llama_embedder

    # The Llama loader has its own default pooling.
    return load_llama_embedder(path, dtype=dtype, **({} if pooling is None else {"pooling": pooling}))
