"""Llama-architecture GGUF files (llama.cpp's format) read with the `gguf` package: the metadata as
Hugging Face `config.json` keys, every tensor de-quantised to float32 under its Hugging Face name
and layout, and the byte-level BPE tokenizer rebuilt from the file's own vocabulary and merges.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGUFReader, TokenType
from gguf.quants import dequantize
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

from dynint.errors import DataFormatError
from dynint.pretrained.safetensors_checkpoint import sha256_of_file

# llama.cpp's tensor names -> Hugging Face's ("{}" is the block index).
GGUF_TENSOR_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
    "blk.{}.attn_norm.weight": "model.layers.{}.input_layernorm.weight",
    "blk.{}.ffn_norm.weight": "model.layers.{}.post_attention_layernorm.weight",
    "blk.{}.attn_q.weight": "model.layers.{}.self_attn.q_proj.weight",
    "blk.{}.attn_k.weight": "model.layers.{}.self_attn.k_proj.weight",
    "blk.{}.attn_v.weight": "model.layers.{}.self_attn.v_proj.weight",
    "blk.{}.attn_output.weight": "model.layers.{}.self_attn.o_proj.weight",
    "blk.{}.ffn_gate.weight": "model.layers.{}.mlp.gate_proj.weight",
    "blk.{}.ffn_up.weight": "model.layers.{}.mlp.up_proj.weight",
    "blk.{}.ffn_down.weight": "model.layers.{}.mlp.down_proj.weight",
}
_OPTIONAL_TENSORS = ("output.weight",)  # absent when the LM head is tied to the embeddings

# tokenizer.ggml.pre -> the pre-tokenizer of the original tokenizer.json. SmolLM's splits every
# digit before GPT-2's byte-level regex.
_PRE_TOKENIZERS = {
    "smollm": lambda: pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    ),
    "gpt2": lambda: pre_tokenizers.ByteLevel(add_prefix_space=False),
    "default": lambda: pre_tokenizers.ByteLevel(add_prefix_space=False),
}


@dataclass(frozen=True)
class GGUFLlama:
    """A GGUF file's Llama model: `config` in `config.json` keys, `tensors` float32 in Hugging Face
    names and `(out, in)` layouts, the tokenizer, and the file's SHA-256."""

    path: Path
    config: dict[str, Any]
    tensors: dict[str, np.ndarray]
    tokenizer: Tokenizer
    fingerprint: str


def read_gguf_llama(path: str | Path) -> GGUFLlama:
    """Read a Llama-architecture `.gguf` file; a missing key or tensor, or an unexpected tensor,
    raises `DataFormatError` naming the file and the key or tensor."""
    path = Path(path)
    try:
        reader = GGUFReader(path)
    except (OSError, ValueError) as error:
        raise DataFormatError(path, f"not a readable GGUF file ({error})") from None
    metadata = _Metadata(reader, path)
    architecture = metadata.get("general.architecture")
    if architecture != "llama":
        raise DataFormatError(path, f"general.architecture={architecture!r}: expected 'llama'")
    stored = {tensor.name: tensor for tensor in reader.tensors}
    config = _hf_config(metadata, tied="output.weight" not in stored)
    names = _hf_tensor_names(stored, config["num_hidden_layers"], path)
    tensors = {}
    for gguf_name, tensor in stored.items():
        # GGUF lists dimensions innermost first; numpy's order is the reverse.
        array = dequantize(tensor.data, tensor.tensor_type).reshape(tuple(int(n) for n in reversed(tensor.shape)))
        array = np.asarray(array, dtype=np.float32)
        if gguf_name.endswith("attn_q.weight"):
            array = unpermute_rotary_rows(array, config["num_attention_heads"])
        elif gguf_name.endswith("attn_k.weight"):
            array = unpermute_rotary_rows(array, config["num_key_value_heads"])
        tensors[names[gguf_name]] = array
    return GGUFLlama(path, config, tensors, gguf_tokenizer(metadata), sha256_of_file(path))


def unpermute_rotary_rows(weight: np.ndarray, num_heads: int) -> np.ndarray:
    """Undo llama.cpp's conversion of a q or k projection `(out, in)`: it interleaves each head's
    rows (pairing rotary dimensions `2i, 2i+1`); Hugging Face pairs dimension `i` with `i + D/2`."""
    rows, columns = weight.shape
    return weight.reshape(num_heads, rows // num_heads // 2, 2, columns).swapaxes(1, 2).reshape(rows, columns)


class _Metadata:
    """Key-value access to a GGUF header that names the file and key when a key is missing."""

    def __init__(self, reader: GGUFReader, path: Path):
        self.fields = reader.fields
        self.path = path

    def get(self, key: str, default: Any = ...) -> Any:
        if key not in self.fields:
            if default is ...:
                raise DataFormatError(self.path, f"missing metadata key {key!r}")
            return default
        return self.fields[key].contents()


def _hf_config(metadata: _Metadata, tied: bool) -> dict[str, Any]:
    def key(name: str, default: Any = ...) -> Any:
        return metadata.get(f"llama.{name}", default)

    heads = int(key("attention.head_count"))
    head_dim = int(key("attention.key_length", int(key("embedding_length")) // heads))
    rotary = int(key("rope.dimension_count", head_dim))
    if rotary != head_dim:
        raise DataFormatError(metadata.path, f"llama.rope.dimension_count={rotary}: expected the head size {head_dim}")
    scaling = key("rope.scaling.type", "none")
    if scaling != "none":
        raise DataFormatError(metadata.path, f"llama.rope.scaling.type={scaling!r} is not supported (expected none)")
    return {
        "model_type": "llama",
        "vocab_size": int(key("vocab_size", len(metadata.get("tokenizer.ggml.tokens")))),
        "hidden_size": int(key("embedding_length")),
        "intermediate_size": int(key("feed_forward_length")),
        "num_hidden_layers": int(key("block_count")),
        "num_attention_heads": heads,
        "num_key_value_heads": int(key("attention.head_count_kv", heads)),
        "head_dim": head_dim,
        "rope_theta": _shortest_float(key("rope.freq_base", 10000.0)),
        "rms_norm_eps": _shortest_float(key("attention.layer_norm_rms_epsilon")),
        "max_position_embeddings": int(key("context_length")),
        "tie_word_embeddings": tied,
    }


def _shortest_float(value: float) -> float:
    """A float32 header value as the shortest decimal that rounds to it (1e-05, not 9.9999997e-06),
    which is what the original config.json said."""
    return float(str(np.float32(value)))


def _hf_tensor_names(stored: dict[str, Any], num_layers: int, path: Path) -> dict[str, str]:
    """GGUF name -> Hugging Face name for every stored tensor, after checking that none is missing
    or unexpected."""
    expected = {}
    for gguf_name, hf_name in GGUF_TENSOR_NAMES.items():
        blocks = range(num_layers) if "{}" in gguf_name else [None]
        expected.update({gguf_name.format(block): hf_name.format(block) for block in blocks})
    for gguf_name in stored:
        if gguf_name not in expected:
            raise DataFormatError(path, f"unexpected tensor {gguf_name!r} (not part of a {num_layers}-block Llama)")
    missing = [name for name in expected if name not in stored and name not in _OPTIONAL_TENSORS]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise DataFormatError(path, f"missing tensor {missing[0]!r}{more}")
    return {gguf_name: expected[gguf_name] for gguf_name in stored}


def gguf_tokenizer(metadata: _Metadata) -> Tokenizer:
    """The byte-level BPE tokenizer stored in the header (`tokenizer.ggml.*`); control tokens are
    special tokens, and `add_special_tokens=True` prepends BOS where the file asks for it."""
    kind = metadata.get("tokenizer.ggml.model")
    if kind != "gpt2":
        raise DataFormatError(metadata.path, f"tokenizer.ggml.model={kind!r}: expected 'gpt2' (byte-level BPE)")
    pre = metadata.get("tokenizer.ggml.pre", "default")
    if pre not in _PRE_TOKENIZERS:
        raise DataFormatError(
            metadata.path, f"tokenizer.ggml.pre={pre!r}: expected one of {', '.join(_PRE_TOKENIZERS)}"
        )
    tokens = metadata.get("tokenizer.ggml.tokens")
    merges = [tuple(merge.split(" ", 1)) for merge in metadata.get("tokenizer.ggml.merges")]
    types = metadata.get("tokenizer.ggml.token_type", [int(TokenType.NORMAL)] * len(tokens))
    tokenizer = Tokenizer(models.BPE({token: index for index, token in enumerate(tokens)}, merges))
    tokenizer.pre_tokenizer = _PRE_TOKENIZERS[pre]()
    tokenizer.decoder = decoders.ByteLevel()
    kinds = list(zip(tokens, types, strict=True))
    tokenizer.add_special_tokens(
        [AddedToken(token, special=True, normalized=False) for token, kind in kinds if kind == TokenType.CONTROL]
    )
    tokenizer.add_tokens(
        [AddedToken(token, normalized=False) for token, kind in kinds if kind == TokenType.USER_DEFINED]
    )
    if metadata.get("tokenizer.ggml.add_bos_token", False):
        bos_id = int(metadata.get("tokenizer.ggml.bos_token_id"))
        bos = tokens[bos_id]
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bos_id)]
        )
    return tokenizer
