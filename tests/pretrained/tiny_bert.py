"""A tiny randomly initialised BERT checkpoint folder, written the way Hugging Face and
sentence-transformers lay one out, for the unit tests of `dynint/pretrained/`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "toy", "story", "movie", "comedy", "action", "drama", "war", "love", "space", "a", "b", "c"]
WORDS += ["##s", "##ing", "|", "(", ")", "1995", "1996", ","]
VOCABULARY = SPECIAL_TOKENS + WORDS
CLS_ID, SEP_ID = VOCABULARY.index("[CLS]"), VOCABULARY.index("[SEP]")
HIDDEN, LAYERS, HEADS, INNER, POSITIONS, MAX_SEQ_LENGTH = 16, 2, 2, 32, 24, 12


def tiny_bert_tensors(seed: int = 0, prefix: str = "") -> dict[str, np.ndarray]:
    """Random weights under the tensor names of a Hugging Face `BertModel` (plus `prefix`)."""
    rng = np.random.default_rng(seed)

    def normal(*shape: int) -> np.ndarray:
        return rng.normal(0.0, 0.5, size=shape).astype(np.float32)

    tensors = {
        "embeddings.word_embeddings.weight": normal(len(VOCABULARY), HIDDEN),
        "embeddings.position_embeddings.weight": normal(POSITIONS, HIDDEN),
        "embeddings.token_type_embeddings.weight": normal(2, HIDDEN),
        "embeddings.LayerNorm.weight": 1.0 + normal(HIDDEN) / 5,
        "embeddings.LayerNorm.bias": normal(HIDDEN) / 5,
    }
    for i in range(LAYERS):
        layer = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            tensors[layer + name + ".weight"] = normal(HIDDEN, HIDDEN)
            tensors[layer + name + ".bias"] = normal(HIDDEN) / 5
        tensors[layer + "intermediate.dense.weight"] = normal(INNER, HIDDEN)
        tensors[layer + "intermediate.dense.bias"] = normal(INNER) / 5
        tensors[layer + "output.dense.weight"] = normal(HIDDEN, INNER)
        tensors[layer + "output.dense.bias"] = normal(HIDDEN) / 5
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            tensors[layer + norm + ".weight"] = 1.0 + normal(HIDDEN) / 5
            tensors[layer + norm + ".bias"] = normal(HIDDEN) / 5
    return {prefix + name: value for name, value in tensors.items()}


def tiny_bert_config() -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": len(VOCABULARY),
        "hidden_size": HIDDEN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "intermediate_size": INNER,
        "max_position_embeddings": POSITIONS,
        "type_vocab_size": 2,
        "layer_norm_eps": 1e-12,
        "hidden_act": "gelu",
        "position_embedding_type": "absolute",
        "pad_token_id": 0,
    }


def write_tokenizer(path: Path) -> None:
    """A lower-casing WordPiece tokenizer over `VOCABULARY` that adds [CLS] and [SEP], as BERT's does."""
    tokenizer = Tokenizer(WordPiece({token: i for i, token in enumerate(VOCABULARY)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", CLS_ID), ("[SEP]", SEP_ID)]
    )
    tokenizer.save(str(path))


def write_pooling_config(folder: Path, mode: str = "mean", normalize: bool = True) -> None:
    """sentence-transformers' `modules.json` and `1_Pooling/config.json`."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    pooling = {
        "word_embedding_dimension": HIDDEN,
        "pooling_mode_cls_token": mode == "cls",
        "pooling_mode_mean_tokens": mode == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))


def write_tiny_bert(
    folder: Path, *, seed: int = 0, tensors: dict[str, np.ndarray] | None = None, pooling: str = "mean"
) -> Path:
    """A complete sentence-transformers BERT folder: config, weights, tokenizer, pooling, max_seq_length."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(tiny_bert_config()))
    save_file(tiny_bert_tensors(seed) if tensors is None else tensors, str(folder / "model.safetensors"))
    write_tokenizer(folder / "tokenizer.json")
    write_pooling_config(folder, mode=pooling)
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": MAX_SEQ_LENGTH}))
    return folder
