"""A BERT encoder in Flax NNX that loads Hugging Face checkpoints (BERT, MiniLM, BGE, E5, GTE).

Post-LN blocks (attention, residual, LayerNorm; feed-forward with exact-erf GELU, residual,
LayerNorm) over word + position + token-type embeddings, as in Devlin et al. (2019). Weights come
from the folder's `model.safetensors`, text goes through its `tokenizer.json` (the `tokenizers`
library), and the vector is pooled as its sentence-transformers config says (`pretrained/pooling.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tokenizers import Tokenizer

from dynint.errors import ConfigError, DataFormatError
from dynint.models.transformer import MultiHeadSelfAttention, attention_mask
from dynint.pretrained.pooling import Pooling, pool_hidden_states, read_max_seq_length, read_pooling
from dynint.pretrained.safetensors_checkpoint import companion_digest, read_model_config, read_safetensors_weights

BERT_MODEL_TYPES = ("bert",)
COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
# Hugging Face's `hidden_act` names: "gelu" is the exact erf form BERT uses, the others its tanh approximation.
_ACTIVATIONS = {
    "gelu": partial(jax.nn.gelu, approximate=False),
    "gelu_new": partial(jax.nn.gelu, approximate=True),
    "gelu_pytorch_tanh": partial(jax.nn.gelu, approximate=True),
    "relu": jax.nn.relu,
}
# Heads and buffers a BERT checkpoint may carry that an encoder does not use.
_UNUSED_TENSORS = ("pooler.", "cls.", "embeddings.position_ids")
_KEY_PREFIXES = ("bert.", "model.")


def compute_dtype(name: str) -> jnp.dtype:
    """The dtype named by a `dtype` option ("float32" or "bfloat16")."""
    if name not in COMPUTE_DTYPES:
        raise ConfigError(f"dtype={name!r}: expected one of {', '.join(COMPUTE_DTYPES)}")
    return COMPUTE_DTYPES[name]


@dataclass(frozen=True)
class BertConfig:
    """The architecture fields of a Hugging Face BERT `config.json` (their names there in comments)."""

    vocab_size: int
    hidden_size: int
    num_layers: int  # num_hidden_layers
    num_heads: int  # num_attention_heads
    intermediate_size: int
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"hidden_size={self.hidden_size} is not divisible by num_heads={self.num_heads}")
        if self.hidden_act not in _ACTIVATIONS:
            raise ConfigError(f"hidden_act={self.hidden_act!r}: expected one of {', '.join(_ACTIVATIONS)}")

    @classmethod
    def from_hf(cls, config: dict[str, Any], path: Path) -> BertConfig:
        """Read from a parsed `config.json` at `path`; a missing or unsupported key names the file."""
        fields = {
            "vocab_size": "vocab_size",
            "hidden_size": "hidden_size",
            "num_layers": "num_hidden_layers",
            "num_heads": "num_attention_heads",
            "intermediate_size": "intermediate_size",
        }
        optional = {
            "max_position_embeddings": "max_position_embeddings",
            "type_vocab_size": "type_vocab_size",
            "layer_norm_eps": "layer_norm_eps",
            "hidden_act": "hidden_act",
        }
        model_type = config.get("model_type")
        if model_type not in BERT_MODEL_TYPES:
            raise DataFormatError(path, f"model_type={model_type!r}: expected one of {', '.join(BERT_MODEL_TYPES)}")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise DataFormatError(
                path, f"position_embedding_type={config['position_embedding_type']!r}: only 'absolute' is supported"
            )
        missing = [key for key in fields.values() if key not in config]
        if missing:
            raise DataFormatError(path, f"missing key {missing[0]!r}")
        values = {name: config[key] for name, key in fields.items()}
        values.update({name: config[key] for name, key in optional.items() if key in config})
        try:
            return cls(**values)
        except ConfigError as error:
            raise DataFormatError(path, str(error)) from None


class BertEmbeddings(nnx.Module):
    """Word + position + token-type embeddings, then LayerNorm."""

    def __init__(self, config: BertConfig, *, rngs: nnx.Rngs):
        self.words = nnx.Embed(config.vocab_size, config.hidden_size, rngs=rngs)
        self.positions = nnx.Embed(config.max_position_embeddings, config.hidden_size, rngs=rngs)
        self.token_types = nnx.Embed(config.type_vocab_size, config.hidden_size, rngs=rngs)
        self.norm = nnx.LayerNorm(config.hidden_size, epsilon=config.layer_norm_eps, rngs=rngs)

    def __call__(self, token_ids: jax.Array, positions: jax.Array) -> jax.Array:
        # One segment: every token has token type 0.
        return self.norm(self.words(token_ids) + self.positions(positions) + self.token_types.embedding[0])


class BertLayer(nnx.Module):
    """Self-attention, residual, LayerNorm; feed-forward, residual, LayerNorm (post-LN)."""

    def __init__(self, config: BertConfig, *, rngs: nnx.Rngs):
        self.attention = MultiHeadSelfAttention(config.hidden_size, config.num_heads, 0.0, rngs=rngs)
        self.attention_norm = nnx.LayerNorm(config.hidden_size, epsilon=config.layer_norm_eps, rngs=rngs)
        self.intermediate = nnx.Linear(config.hidden_size, config.intermediate_size, rngs=rngs)
        self.output = nnx.Linear(config.intermediate_size, config.hidden_size, rngs=rngs)
        self.output_norm = nnx.LayerNorm(config.hidden_size, epsilon=config.layer_norm_eps, rngs=rngs)
        self.activation = _ACTIVATIONS[config.hidden_act]

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        x = self.attention_norm(x + self.attention(x, mask, None))
        return self.output_norm(x + self.output(self.activation(self.intermediate(x))))


class BertModel(nnx.Module):
    """Token ids `(B, L)` and real-token flags `(B, L)` -> final hidden states `(B, L, d)`."""

    def __init__(self, config: BertConfig, *, rngs: nnx.Rngs):
        self.config = config
        self.embeddings = BertEmbeddings(config, rngs=rngs)
        self.layers = nnx.List([BertLayer(config, rngs=rngs) for _ in range(config.num_layers)])

    def __call__(self, token_ids: jax.Array, valid: jax.Array) -> jax.Array:
        # Positions count real tokens only, so padding anywhere leaves a text's positions unchanged.
        positions = jnp.maximum(jnp.cumsum(valid, axis=1) - 1, 0)
        x = self.embeddings(token_ids, positions)
        mask = attention_mask(valid, causal=False)
        for layer in self.layers:
            x = layer(x, mask)
        return x


def _hf_tensor_shapes(config: BertConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor a BertModel checkpoint holds (un-prefixed names) and its shape."""
    d, inner = config.hidden_size, config.intermediate_size
    shapes = {
        "embeddings.word_embeddings.weight": (config.vocab_size, d),
        "embeddings.position_embeddings.weight": (config.max_position_embeddings, d),
        "embeddings.token_type_embeddings.weight": (config.type_vocab_size, d),
        "embeddings.LayerNorm.weight": (d,),
        "embeddings.LayerNorm.bias": (d,),
    }
    for i in range(config.num_layers):
        layer = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes[layer + name + ".weight"] = (d, d)
            shapes[layer + name + ".bias"] = (d,)
        shapes[layer + "intermediate.dense.weight"] = (inner, d)
        shapes[layer + "intermediate.dense.bias"] = (inner,)
        shapes[layer + "output.dense.weight"] = (d, inner)
        shapes[layer + "output.dense.bias"] = (d,)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[layer + norm + ".weight"] = (d,)
            shapes[layer + norm + ".bias"] = (d,)
    return shapes


def _hf_names(stored: Sequence[str]) -> tuple[dict[str, str], tuple[str, ...]]:
    """How a checkpoint's tensor names map to `_hf_tensor_shapes`' names: strip the prefix the
    checkpoint uses ("bert." from a pre-training checkpoint, ...) and rename TF-era LayerNorm
    `gamma`/`beta`. Also the name prefixes of tensors to ignore."""
    prefix = next((p for p in _KEY_PREFIXES if f"{p}embeddings.word_embeddings.weight" in stored), "")
    rename = {}
    for name in stored:
        plain = name.removeprefix(prefix)
        if plain.endswith("LayerNorm.gamma"):
            plain = plain.removesuffix("gamma") + "weight"
        elif plain.endswith("LayerNorm.beta"):
            plain = plain.removesuffix("beta") + "bias"
        rename[name] = plain
    ignore = tuple(prefix + unused for unused in _UNUSED_TENSORS) + (("cls.",) if prefix else ())
    return rename, ignore


def _linear_params(weights: dict[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    """A torch Linear's `(out, in)` weight and bias as an nnx.Linear `(in, out)` kernel and bias."""
    return weights[name + ".weight"].T, weights[name + ".bias"]


def _assign(variable: nnx.Variable, value: np.ndarray, dtype: jnp.dtype) -> None:
    variable.set_value(jnp.asarray(value, dtype=dtype))


def _set_weights(model: BertModel, weights: dict[str, np.ndarray], dtype: jnp.dtype) -> None:
    embeddings = model.embeddings
    _assign(embeddings.words.embedding, weights["embeddings.word_embeddings.weight"], dtype)
    _assign(embeddings.positions.embedding, weights["embeddings.position_embeddings.weight"], dtype)
    _assign(embeddings.token_types.embedding, weights["embeddings.token_type_embeddings.weight"], dtype)
    _set_norm(embeddings.norm, weights, "embeddings.LayerNorm", dtype)
    for i, layer in enumerate(model.layers):
        prefix = f"encoder.layer.{i}."
        # MultiHeadSelfAttention's fused projection holds [query | key | value] side by side.
        parts = [_linear_params(weights, prefix + f"attention.self.{n}") for n in ("query", "key", "value")]
        _assign(layer.attention.qkv.kernel, np.concatenate([kernel for kernel, _ in parts], axis=1), dtype)
        _assign(layer.attention.qkv.bias, np.concatenate([bias for _, bias in parts]), dtype)
        for linear, name in (
            (layer.attention.out, "attention.output.dense"),
            (layer.intermediate, "intermediate.dense"),
            (layer.output, "output.dense"),
        ):
            kernel, bias = _linear_params(weights, prefix + name)
            _assign(linear.kernel, kernel, dtype)
            _assign(linear.bias, bias, dtype)
        _set_norm(layer.attention_norm, weights, prefix + "attention.output.LayerNorm", dtype)
        _set_norm(layer.output_norm, weights, prefix + "output.LayerNorm", dtype)


def _set_norm(norm: nnx.LayerNorm, weights: dict[str, np.ndarray], name: str, dtype: jnp.dtype) -> None:
    _assign(norm.scale, weights[name + ".weight"], dtype)
    _assign(norm.bias, weights[name + ".bias"], dtype)


def load_bert_model(folder: str | Path, dtype: str = "float32") -> tuple[BertModel, str]:
    """The encoder in a Hugging Face folder and its weights' fingerprint. `dtype="bfloat16"` stores
    the weights, and so computes, in bfloat16 (for accelerators); pooling stays in float32."""
    folder = Path(folder)
    config = BertConfig.from_hf(read_model_config(folder), folder / "config.json")
    checkpoint = read_safetensors_weights(folder)
    rename, ignore = _hf_names(list(checkpoint.locations))
    weights = checkpoint.take(_hf_tensor_shapes(config), rename=rename, ignore=ignore)
    model = nnx.eval_shape(lambda: BertModel(config, rngs=nnx.Rngs(0)))
    _set_weights(model, weights, compute_dtype(dtype))
    return model, checkpoint.fingerprint


def load_tokenizer(folder: Path, max_length: int) -> Tokenizer:
    """The folder's `tokenizer.json`, truncating to `max_length` tokens (special tokens included), unpadded."""
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise DataFormatError(path, "file not found (a BERT checkpoint folder needs its tokenizer.json)")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as error:  # the tokenizers library raises a bare Exception for a malformed file
        raise DataFormatError(path, f"not a readable tokenizer ({error})") from None
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return tokenizer


class BertEmbedder(nnx.Module):
    """A `TextEmbedder` over a BERT-family checkpoint folder; the encoder is an NNX module, so
    `encode_texts` passes its weights to the compiled function as arguments."""

    def __init__(
        self, model: BertModel, tokenizer: Tokenizer, *, name: str, fingerprint: str, pooling: Pooling, dtype: str
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.fingerprint = fingerprint
        self.pooling_spec = pooling
        self.pooling = str(pooling)
        self.max_length = tokenizer.truncation["max_length"]
        self.dimension = model.config.hidden_size
        self.dtype = dtype
        self.companion_digest = ""

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        return [encoding.ids for encoding in self.tokenizer.encode_batch(list(texts))]

    def embed_tokens(self, token_ids: jax.Array, valid: jax.Array) -> jax.Array:
        return pool_hidden_states(self.model(token_ids, valid), valid, self.pooling_spec)


def load_bert_embedder(
    folder: str | Path, *, pooling: str | None = None, dtype: str = "float32", name: str | None = None
) -> BertEmbedder:
    """A BERT-family sentence encoder from a Hugging Face / sentence-transformers folder.

    `pooling` ("mean", "cls+normalize", ...) overrides the folder's sentence-transformers config;
    texts are truncated to its `max_seq_length` (else `max_position_embeddings`).
    """
    folder = Path(folder)
    model, fingerprint = load_bert_model(folder, dtype)
    spec = read_pooling(folder) if pooling is None else Pooling.parse(pooling)
    positions = model.config.max_position_embeddings
    max_length = min(read_max_seq_length(folder) or positions, positions)
    tokenizer = load_tokenizer(folder, max_length)
    embedder = BertEmbedder(
        model, tokenizer, name=name or folder.name, fingerprint=fingerprint, pooling=spec, dtype=dtype
    )
    embedder.companion_digest = companion_digest(folder)
    return embedder
