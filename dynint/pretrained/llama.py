"""A decoder LLM of the Llama family (Llama, SmolLM2, ...) in Flax NNX, read from a GGUF file or a
Hugging Face safetensors folder, and offered as a `TextEmbedder` that pools its final hidden states.

The forward pass follows Hugging Face's `LlamaModel`: RMSNorm before attention and before the
SwiGLU MLP, rotary position embeddings with the halves convention (`rotate_half`), grouped-query
attention under a causal and a padding mask, a final RMSNorm, and a tied or separate LM head.
Positions count real tokens only, so padding anywhere in a row leaves its hidden states unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tokenizers import Tokenizer

from dynint.errors import ConfigError, DataFormatError
from dynint.pretrained.bert import compute_dtype
from dynint.pretrained.gguf_checkpoint import read_gguf_llama
from dynint.pretrained.pooling import Pooling, pool_hidden_states
from dynint.pretrained.safetensors_checkpoint import companion_digest, read_model_config, read_safetensors_weights
from dynint.train.sharding import MODEL_AXIS

LLAMA_POOLINGS = ("mean", "last", "mean+normalize", "last+normalize")


@dataclass(frozen=True)
class LlamaConfig:
    """The architecture; `num_kv_heads < num_heads` is grouped-query attention."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = False

    def __post_init__(self) -> None:
        if self.num_heads % self.num_kv_heads:
            raise ConfigError(f"num_heads={self.num_heads} is not a multiple of num_kv_heads={self.num_kv_heads}")
        if self.head_dim % 2:
            raise ConfigError(f"head_dim={self.head_dim}: rotary embeddings need an even head size")


def llama_config_from_hf(config: Mapping[str, Any], source: str | Path) -> LlamaConfig:
    """A `LlamaConfig` from Hugging Face `config.json` keys (the GGUF reader writes the same keys)."""
    if config.get("model_type", "llama") != "llama":
        raise DataFormatError(source, f"model_type={config.get('model_type')!r}: expected 'llama'")
    # transformers 5 moved rope_theta and rope_scaling into rope_parameters.
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    if rope.get("rope_type", rope.get("type", "default")) != "default":
        raise DataFormatError(source, f"rope scaling {rope!r} is not supported (expected default rotary embeddings)")
    try:
        heads = int(config["num_attention_heads"])
        return LlamaConfig(
            vocab_size=int(config["vocab_size"]),
            hidden_size=int(config["hidden_size"]),
            intermediate_size=int(config["intermediate_size"]),
            num_layers=int(config["num_hidden_layers"]),
            num_heads=heads,
            num_kv_heads=int(config.get("num_key_value_heads") or heads),
            head_dim=int(config.get("head_dim") or config["hidden_size"] // heads),
            rope_theta=float(config.get("rope_theta", rope.get("rope_theta", 10000.0))),
            rms_norm_eps=float(config.get("rms_norm_eps", 1e-6)),
            max_position_embeddings=int(config.get("max_position_embeddings", 2048)),
            tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        )
    except KeyError as error:
        raise DataFormatError(source, f"missing key {error.args[0]!r}") from None
    except ConfigError as error:
        raise DataFormatError(source, str(error)) from None


class RMSNorm(nnx.Module):
    """x / rms(x) * scale, the statistics in float32 (as Hugging Face computes them)."""

    def __init__(self, size: int, eps: float, *, dtype: Any, param_dtype: Any):
        self.eps = eps
        self.dtype = dtype
        self.scale = nnx.Param(jnp.ones((size,), param_dtype))

    def __call__(self, x: jax.Array) -> jax.Array:
        x32 = x.astype(jnp.float32)
        normed = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.eps)
        return normed.astype(self.dtype) * self.scale[...].astype(self.dtype)


def rotary_angles(positions: jax.Array, head_dim: int, theta: float) -> tuple[jax.Array, jax.Array]:
    """`(B, L)` positions -> `(B, L, head_dim)` cosines and sines, frequencies repeated over the halves."""
    inverse_frequencies = 1.0 / theta ** (jnp.arange(0, head_dim, 2, dtype=jnp.float32) / head_dim)
    angles = positions.astype(jnp.float32)[..., None] * inverse_frequencies
    angles = jnp.concatenate([angles, angles], axis=-1)
    return jnp.cos(angles), jnp.sin(angles)


def apply_rotary(x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
    """Rotate `(B, L, H, D)` queries or keys; dimension `i` pairs with `i + D/2` (Hugging Face's `rotate_half`)."""
    half = x.shape[-1] // 2
    rotated = jnp.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    cos, sin = cos[:, :, None].astype(x.dtype), sin[:, :, None].astype(x.dtype)
    return x * cos + rotated * sin


def _linear(inputs: int, outputs: int, dtype: Any, param_dtype: Any, rngs: nnx.Rngs) -> nnx.Linear:
    init = nnx.initializers.normal(stddev=0.02)
    return nnx.Linear(
        inputs, outputs, use_bias=False, dtype=dtype, param_dtype=param_dtype, kernel_init=init, rngs=rngs
    )


class GroupedQueryAttention(nnx.Module):
    """Causal self-attention where each key/value head serves `num_heads / num_kv_heads` query heads."""

    def __init__(self, config: LlamaConfig, *, dtype: Any, param_dtype: Any, rngs: nnx.Rngs):
        self.num_heads, self.num_kv_heads, self.head_dim = config.num_heads, config.num_kv_heads, config.head_dim
        d, heads, kv_heads = (
            config.hidden_size,
            config.num_heads * config.head_dim,
            config.num_kv_heads * config.head_dim,
        )
        self.query = _linear(d, heads, dtype, param_dtype, rngs)
        self.key = _linear(d, kv_heads, dtype, param_dtype, rngs)
        self.value = _linear(d, kv_heads, dtype, param_dtype, rngs)
        self.output = _linear(heads, d, dtype, param_dtype, rngs)

    def __call__(self, x: jax.Array, cos: jax.Array, sin: jax.Array, mask: jax.Array) -> jax.Array:
        """`x` `(B, L, d)`; `mask` `(B, L, L)`, True where query `i` may attend to key `j`."""
        batch, length, _ = x.shape
        groups = self.num_heads // self.num_kv_heads
        q = apply_rotary(self.query(x).reshape(batch, length, self.num_heads, self.head_dim), cos, sin)
        k = apply_rotary(self.key(x).reshape(batch, length, self.num_kv_heads, self.head_dim), cos, sin)
        v = self.value(x).reshape(batch, length, self.num_kv_heads, self.head_dim)
        # Query head h uses key/value head h // groups, as Hugging Face's repeat_kv arranges them.
        q = q.reshape(batch, length, self.num_kv_heads, groups, self.head_dim)
        logits = jnp.einsum("bqkgd,bskd->bkgqs", q, k, preferred_element_type=jnp.float32)
        logits = logits * self.head_dim**-0.5
        # A finite fill keeps rows without any real key (padding queries) free of NaN.
        logits = jnp.where(mask[:, None, None], logits, jnp.finfo(jnp.float32).min)
        weights = jax.nn.softmax(logits, axis=-1).astype(v.dtype)
        context = jnp.einsum("bkgqs,bskd->bqkgd", weights, v)
        return self.output(context.reshape(batch, length, self.num_heads * self.head_dim))


class SwiGLU(nnx.Module):
    """down(silu(gate(x)) * up(x))."""

    def __init__(self, config: LlamaConfig, *, dtype: Any, param_dtype: Any, rngs: nnx.Rngs):
        self.gate = _linear(config.hidden_size, config.intermediate_size, dtype, param_dtype, rngs)
        self.up = _linear(config.hidden_size, config.intermediate_size, dtype, param_dtype, rngs)
        self.down = _linear(config.intermediate_size, config.hidden_size, dtype, param_dtype, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.down(jax.nn.silu(self.gate(x)) * self.up(x))


class DecoderBlock(nnx.Module):
    def __init__(self, config: LlamaConfig, *, dtype: Any, param_dtype: Any, rngs: nnx.Rngs):
        norm = partial(RMSNorm, config.hidden_size, config.rms_norm_eps, dtype=dtype, param_dtype=param_dtype)
        self.attention_norm = norm()
        self.attention = GroupedQueryAttention(config, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.mlp_norm = norm()
        self.mlp = SwiGLU(config, dtype=dtype, param_dtype=param_dtype, rngs=rngs)

    def __call__(self, x: jax.Array, cos: jax.Array, sin: jax.Array, mask: jax.Array) -> jax.Array:
        x = x + self.attention(self.attention_norm(x), cos, sin, mask)
        return x + self.mlp(self.mlp_norm(x))


class Llama(nnx.Module):
    """Token ids -> final hidden states (after the final RMSNorm) and next-token logits."""

    def __init__(self, config: LlamaConfig, *, dtype: Any = jnp.float32, param_dtype: Any = None, rngs: nnx.Rngs):
        param_dtype = param_dtype or dtype
        self.config = config
        self.embed = nnx.Embed(
            config.vocab_size,
            config.hidden_size,
            dtype=dtype,
            param_dtype=param_dtype,
            embedding_init=nnx.initializers.normal(stddev=0.02),
            rngs=rngs,
        )
        self.blocks = nnx.List(
            [DecoderBlock(config, dtype=dtype, param_dtype=param_dtype, rngs=rngs) for _ in range(config.num_layers)]
        )
        self.final_norm = RMSNorm(config.hidden_size, config.rms_norm_eps, dtype=dtype, param_dtype=param_dtype)
        self.lm_head = (
            None
            if config.tie_word_embeddings
            else _linear(config.hidden_size, config.vocab_size, dtype, param_dtype, rngs)
        )

    def __call__(self, token_ids: jax.Array, valid: jax.Array) -> tuple[jax.Array, jax.Array]:
        """`(B, L)` ids and real-token flags -> `(B, L, d)` hidden states and `(B, vocab)` float32
        logits of the token after each row's last real token. Padding may sit anywhere."""
        valid = valid.astype(bool)
        length = token_ids.shape[1]
        positions = jnp.maximum(jnp.cumsum(valid, axis=1) - 1, 0)
        cos, sin = rotary_angles(positions, self.config.head_dim, self.config.rope_theta)
        mask = valid[:, None, :] & jnp.tril(jnp.ones((length, length), dtype=bool))[None]
        x = self.embed(token_ids)
        for block in self.blocks:
            x = block(x, cos, sin, mask)
        hidden = self.final_norm(x)
        last = jnp.max(jnp.where(valid, jnp.arange(length)[None], 0), axis=1)
        final = jnp.take_along_axis(hidden, last[:, None, None], axis=1)[:, 0]
        table = self.embed.embedding[...] if self.lm_head is None else self.lm_head.kernel[...].T
        logits = jnp.einsum("bd,vd->bv", final, table.astype(final.dtype), preferred_element_type=jnp.float32)
        return hidden, logits


# Module parameter paths, the Hugging Face tensor each one is read from, and whether it is a linear
# layer's kernel, stored (out, in) by Hugging Face and (in, out) by Flax.
_HF_NAMES: tuple[tuple[str, str, bool], ...] = (
    (r"embed/embedding", "model.embed_tokens.weight", False),
    (r"final_norm/scale", "model.norm.weight", False),
    (r"lm_head/kernel", "lm_head.weight", True),
    (r"blocks/(\d+)/attention_norm/scale", "model.layers.{}.input_layernorm.weight", False),
    (r"blocks/(\d+)/mlp_norm/scale", "model.layers.{}.post_attention_layernorm.weight", False),
    (r"blocks/(\d+)/attention/query/kernel", "model.layers.{}.self_attn.q_proj.weight", True),
    (r"blocks/(\d+)/attention/key/kernel", "model.layers.{}.self_attn.k_proj.weight", True),
    (r"blocks/(\d+)/attention/value/kernel", "model.layers.{}.self_attn.v_proj.weight", True),
    (r"blocks/(\d+)/attention/output/kernel", "model.layers.{}.self_attn.o_proj.weight", True),
    (r"blocks/(\d+)/mlp/gate/kernel", "model.layers.{}.mlp.gate_proj.weight", True),
    (r"blocks/(\d+)/mlp/up/kernel", "model.layers.{}.mlp.up_proj.weight", True),
    (r"blocks/(\d+)/mlp/down/kernel", "model.layers.{}.mlp.down_proj.weight", True),
)


def _path_name(path: tuple[Any, ...]) -> str:
    return "/".join(str(part) for part in path)


def _hf_name(path: tuple[Any, ...]) -> tuple[str, bool]:
    name = _path_name(path)
    for pattern, hf_name, transpose in _HF_NAMES:
        if match := re.fullmatch(pattern, name):
            return hf_name.format(*match.groups()), transpose
    raise KeyError(f"no Hugging Face name for the Llama parameter {name!r}")


def hf_parameter_shapes(config: LlamaConfig) -> dict[str, tuple[int, ...]]:
    """The Hugging Face name and `(out, in)` shape of every tensor a `config` model reads."""
    abstract = nnx.eval_shape(lambda: Llama(config, rngs=nnx.Rngs(0)))
    shapes = {}
    for path, variable in nnx.to_flat_state(nnx.state(abstract, nnx.Param)):
        name, transpose = _hf_name(path)
        shape = variable.get_value().shape
        shapes[name] = shape[::-1] if transpose else shape
    return shapes


def llama_from_hf_weights(
    config: LlamaConfig, weights: Mapping[str, np.ndarray], *, dtype: str = "float32", source: str | Path = "weights"
) -> Llama:
    """A `Llama` whose parameters are `weights` (Hugging Face names and layouts, as from
    `hf_parameter_shapes`), stored and computed in `dtype`. No random initialisation is run."""
    jax_dtype = compute_dtype(dtype)
    graphdef, state = nnx.split(nnx.eval_shape(lambda: Llama(config, dtype=jax_dtype, rngs=nnx.Rngs(0))))
    filled = []
    for path, variable in nnx.to_flat_state(state):
        name, transpose = _hf_name(path)
        if name not in weights:
            raise DataFormatError(source, f"missing tensor {name!r}")
        array = np.asarray(weights[name])
        array = array.T if transpose else array
        if array.shape != variable.get_value().shape:
            expected = variable.get_value().shape[::-1] if transpose else variable.get_value().shape
            raise DataFormatError(source, f"tensor {name!r} has shape {np.shape(weights[name])}, expected {expected}")
        filled.append((path, variable.replace(jnp.asarray(array, dtype=jax_dtype))))
    return nnx.merge(graphdef, nnx.from_flat_state(filled))


@dataclass(frozen=True)
class LlamaCheckpoint:
    """A loaded checkpoint: the model (computing in `dtype`), its tokenizer (which adds BOS where
    the checkpoint asks for it when called with `add_special_tokens=True`), the SHA-256 of its
    weight file(s), and of a folder's config and tokenizer files ("" for a GGUF file, which holds them)."""

    name: str
    config: LlamaConfig
    model: Llama
    tokenizer: Tokenizer
    fingerprint: str
    dtype: str
    companion_digest: str = ""


def load_llama(path: str | Path, *, dtype: str = "float32") -> LlamaCheckpoint:
    """Read a `.gguf` file (tensors de-quantised to float32) or a Hugging Face folder
    (`config.json`, `model.safetensors` or its sharded index, `tokenizer.json`)."""
    path = Path(path)
    if path.is_file() and path.suffix == ".gguf":
        gguf = read_gguf_llama(path)
        config = llama_config_from_hf(gguf.config, path)
        model = llama_from_hf_weights(config, gguf.tensors, dtype=dtype, source=path)
        return LlamaCheckpoint(path.stem, config, model, gguf.tokenizer, gguf.fingerprint, dtype)
    if not path.is_dir():
        raise DataFormatError(path, "expected a .gguf file or a folder with config.json and model.safetensors")
    config = llama_config_from_hf(read_model_config(path), path / "config.json")
    tokenizer_path = path / "tokenizer.json"
    if not tokenizer_path.is_file():
        raise DataFormatError(tokenizer_path, "file not found (the Llama tokenizer is read from it)")
    weights = read_safetensors_weights(path)
    # Tied checkpoints may still store lm_head; older ones store the rotary inverse frequencies.
    ignore = ("lm_head.",) if config.tie_word_embeddings else ()
    tensors = weights.take(hf_parameter_shapes(config), ignore=(*ignore, "model.rotary_emb."))
    model = llama_from_hf_weights(config, tensors, dtype=dtype, source=path)
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    return LlamaCheckpoint(path.name, config, model, tokenizer, weights.fingerprint, dtype, companion_digest(path))


@partial(jax.jit, static_argnames=("graphdef",))
def llama_forward(
    graphdef: nnx.GraphDef, state: nnx.State, token_ids: jax.Array, valid: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """`Llama.__call__` as a pure function of the split model: hidden states and next-token logits."""
    return nnx.merge(graphdef, state)(token_ids, valid)


class LlamaEmbedder(nnx.Module):
    """A `TextEmbedder` over a Llama checkpoint: the pooled final hidden states ("mean" over real
    tokens, or the "last" real token, optionally "+normalize"d). An NNX module, so `encode_texts`
    passes its weights to the compiled function as arguments."""

    def __init__(self, checkpoint: LlamaCheckpoint, pooling: str = "mean", max_length: int | None = None):
        if pooling not in LLAMA_POOLINGS:
            raise ConfigError(f"pooling={pooling!r}: expected one of {', '.join(LLAMA_POOLINGS)} for a decoder LLM")
        self.model = checkpoint.model
        self.tokenizer = checkpoint.tokenizer
        self.config = checkpoint.config
        self.name = checkpoint.name
        self.fingerprint = checkpoint.fingerprint
        self.companion_digest = checkpoint.companion_digest
        self.dtype = checkpoint.dtype
        self.pooling = pooling
        self.pooling_spec = Pooling.parse(pooling)
        self.max_length = max_length or checkpoint.config.max_position_embeddings
        self.dimension = checkpoint.config.hidden_size

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=True)
        return [encoding.ids[: self.max_length] for encoding in encodings]

    def embed_tokens(self, token_ids: jax.Array, valid: jax.Array) -> jax.Array:
        hidden, _ = self.model(jnp.asarray(token_ids), jnp.asarray(valid))
        return pool_hidden_states(hidden, jnp.asarray(valid), self.pooling_spec)

    def forward(self, token_ids: jax.Array, valid: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Final hidden states `(B, L, d)` and next-token logits `(B, vocab)` (see `Llama.__call__`), compiled."""
        return llama_forward(*nnx.split(self.model), jnp.asarray(token_ids), jnp.asarray(valid))

    def shard(self, mesh: Mesh) -> None:
        """Move the parameters onto `mesh` by `llama_partition_specs` (tensor parallel over `model`)."""
        state = nnx.state(self.model)
        specs = llama_partition_specs(state, mesh.shape[MODEL_AXIS])
        nnx.update(self.model, jax.device_put(state, jax.tree.map(lambda spec: NamedSharding(mesh, spec), specs)))


def load_llama_embedder(
    path: str | Path, *, pooling: str = "mean", dtype: str = "float32", max_length: int | None = None
) -> LlamaEmbedder:
    """A `TextEmbedder` from a `.gguf` file or a Hugging Face Llama folder, computing in `dtype`
    ("float32" or "bfloat16"); `max_length` defaults to the checkpoint's context length."""
    return LlamaEmbedder(load_llama(path, dtype=dtype), pooling=pooling, max_length=max_length)


# Megatron-style tensor parallelism over the mesh's `model` axis: the projections into heads and
# into the MLP are split by output column, those back to the residual stream by input row, and the
# vocabulary (embedding rows, LM head columns) is split too; norms are replicated.
LLAMA_PARAMETER_RULES: tuple[tuple[str, PartitionSpec], ...] = (
    (r"embed/embedding", PartitionSpec(MODEL_AXIS, None)),
    (r"lm_head/kernel", PartitionSpec(None, MODEL_AXIS)),
    (r"blocks/\d+/attention/(query|key|value)/kernel", PartitionSpec(None, MODEL_AXIS)),
    (r"blocks/\d+/attention/output/kernel", PartitionSpec(MODEL_AXIS, None)),
    (r"blocks/\d+/mlp/(gate|up)/kernel", PartitionSpec(None, MODEL_AXIS)),
    (r"blocks/\d+/mlp/down/kernel", PartitionSpec(MODEL_AXIS, None)),
    (r".*", PartitionSpec()),
)


def llama_partition_specs(state: nnx.State, model_axis_size: int) -> Any:
    """A `PartitionSpec` for each parameter of a split `Llama` by `LLAMA_PARAMETER_RULES`; an axis
    that `model_axis_size` does not divide stays replicated."""

    def spec(path: tuple[Any, ...], leaf: Any) -> PartitionSpec:
        # Variables add a trailing `.value` attribute to the path; the name is the module path.
        keys = (getattr(key, "key", getattr(key, "idx", None)) for key in path)
        name = _path_name(tuple(key for key in keys if key is not None))
        rule = next(rule for pattern, rule in LLAMA_PARAMETER_RULES if re.fullmatch(pattern, name))
        shape = np.shape(leaf)
        axes = [axis if axis is None or shape[i] % model_axis_size == 0 else None for i, axis in enumerate(rule)]
        return PartitionSpec(*axes)

    return jax.tree_util.tree_map_with_path(spec, state)
