from __future__ import annotations

import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from dynint.errors import DataFormatError
from dynint.pretrained.bert import load_bert_embedder
from dynint.pretrained.encoding import compiled_embed
from dynint.pretrained.pooling import Pooling, pool_hidden_states
from tests.pretrained.tiny_bert import CLS_ID, MAX_SEQ_LENGTH, SEP_ID, tiny_bert_tensors, write_tiny_bert

TEXTS = ["Toy Story (1995) | comedy", "the war movie", "a", "space love drama comedy action"]


def padded_batch(token_lists: list[list[int]], length: int) -> tuple[jnp.ndarray, jnp.ndarray]:
    ids = np.zeros((len(token_lists), length), dtype=np.int32)
    valid = np.zeros((len(token_lists), length), dtype=bool)
    for row, tokens in enumerate(token_lists):
        ids[row, : len(tokens)] = tokens
        valid[row, : len(tokens)] = True
    return jnp.asarray(ids), jnp.asarray(valid)


def test_minilm_tokenizer_matches_reference_input_ids(minilm_folder: Path, minilm_reference: dict) -> None:
    embedder = load_bert_embedder(minilm_folder)
    items = minilm_reference["items"]
    assert embedder.max_length == minilm_reference["checkpoint"]["max_seq_length"] == 256
    for item, ids in zip(items, embedder.tokenize([item["text"] for item in items]), strict=True):
        assert ids == item["input_ids"], item["text"]


def test_minilm_embeddings_match_sentence_transformers(minilm_folder: Path, minilm_reference: dict) -> None:
    embedder = load_bert_embedder(minilm_folder)
    assert embedder.pooling == "mean+normalize"
    items = minilm_reference["items"]
    # All ten texts in one batch padded to 256 tokens: padding must not move any of them.
    ids, valid = padded_batch([item["input_ids"] for item in items], 256)
    embeddings = np.asarray(embedder.embed_tokens(ids, valid))
    mean_pooled = np.asarray(pool_hidden_states(embedder.model(ids, valid), valid, Pooling("mean")))
    for row, item in enumerate(items):
        for ours, key in ((embeddings[row], "embedding"), (mean_pooled[row], "mean_pooled")):
            reference = np.asarray(item[key], dtype=np.float32)
            cosine = ours @ reference / (np.linalg.norm(ours) * np.linalg.norm(reference))
            assert np.abs(ours - reference).max() <= 1e-4, (item["text"], key)
            assert cosine >= 0.9999, (item["text"], key)


def test_minilm_checkpoint_sha256_matches_reference(minilm_folder: Path, minilm_reference: dict) -> None:
    embedder = load_bert_embedder(minilm_folder)
    assert embedder.fingerprint == minilm_reference["checkpoint"]["model_safetensors_sha256"]


def test_padding_does_not_change_a_texts_embedding(tiny_bert_folder: Path) -> None:
    embedder = load_bert_embedder(tiny_bert_folder)
    embed = compiled_embed(embedder)  # one compiled program per shape, as encode_texts runs it
    token_lists = embedder.tokenize(TEXTS)
    alone = [np.asarray(embed(*padded_batch([tokens], len(tokens))))[0] for tokens in token_lists]
    right_padded = np.asarray(embed(*padded_batch(token_lists, 16)))
    np.testing.assert_allclose(right_padded, np.stack(alone), atol=1e-5)
    # Left padding too: positions count real tokens only.
    tokens = token_lists[1]
    ids = jnp.asarray([[0] * 5 + tokens])
    valid = jnp.asarray([[False] * 5 + [True] * len(tokens)])
    np.testing.assert_allclose(np.asarray(embed(ids, valid))[0], alone[1], atol=1e-5)


def test_cls_pooling_takes_the_first_hidden_state_and_mean_pooling_averages_real_tokens(tiny_bert_folder: Path) -> None:
    cls = load_bert_embedder(tiny_bert_folder, pooling="cls")
    mean = load_bert_embedder(tiny_bert_folder, pooling="mean")
    ids, valid = padded_batch(cls.tokenize(TEXTS), 16)
    hidden = np.asarray(cls.model(ids, valid))
    lengths = np.asarray(valid).sum(axis=1)
    np.testing.assert_allclose(np.asarray(cls.embed_tokens(ids, valid)), hidden[:, 0], atol=1e-6)
    expected_mean = np.stack([hidden[row, :n].mean(axis=0) for row, n in enumerate(lengths)])
    np.testing.assert_allclose(np.asarray(mean.embed_tokens(ids, valid)), expected_mean, atol=1e-5)
    assert not np.allclose(hidden[:, 0], expected_mean, atol=1e-2)


def test_folder_pooling_normalises_and_argument_overrides_it(tiny_bert_folder: Path) -> None:
    default = load_bert_embedder(tiny_bert_folder)
    assert default.pooling == "mean+normalize"
    ids, valid = padded_batch(default.tokenize(TEXTS), 16)
    vectors = np.asarray(default.embed_tokens(ids, valid))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    raw = np.asarray(load_bert_embedder(tiny_bert_folder, pooling="mean").embed_tokens(ids, valid))
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), vectors, atol=1e-5)


def test_prefixed_checkpoint_with_unused_heads_loads_like_a_plain_one(tmp_path: Path) -> None:
    plain = load_bert_embedder(write_tiny_bert(tmp_path / "plain"))
    tensors = tiny_bert_tensors(prefix="bert.")
    tensors["bert.pooler.dense.weight"] = np.zeros((16, 16), np.float32)
    tensors["cls.predictions.bias"] = np.zeros((3,), np.float32)
    prefixed = load_bert_embedder(write_tiny_bert(tmp_path / "prefixed", tensors=tensors))
    ids, valid = padded_batch(plain.tokenize(TEXTS), 16)
    expected = np.asarray(plain.embed_tokens(ids, valid))
    np.testing.assert_array_equal(np.asarray(prefixed.embed_tokens(ids, valid)), expected)


def test_tokenize_truncates_to_max_seq_length_keeping_cls_and_sep(tiny_bert_folder: Path) -> None:
    embedder = load_bert_embedder(tiny_bert_folder)
    long_text = " ".join(["comedy"] * 40)
    short, long = embedder.tokenize(["a", long_text])
    assert short[0] == CLS_ID and short[-1] == SEP_ID and len(short) == 3
    assert len(long) == embedder.max_length == MAX_SEQ_LENGTH
    assert long[0] == CLS_ID and long[-1] == SEP_ID


def test_bfloat16_compute_stays_close_to_float32(tiny_bert_folder: Path) -> None:
    full = load_bert_embedder(tiny_bert_folder)
    half = load_bert_embedder(tiny_bert_folder, dtype="bfloat16")
    ids, valid = padded_batch(full.tokenize(TEXTS), 16)
    reduced = half.embed_tokens(ids, valid)
    assert reduced.dtype == jnp.float32 and half.dtype == "bfloat16"
    cosine = np.sum(np.asarray(reduced) * np.asarray(full.embed_tokens(ids, valid)), axis=1)
    assert cosine.min() > 0.99


def test_unsupported_model_type_names_the_config_file(tiny_bert_folder: Path) -> None:
    config = json.loads((tiny_bert_folder / "config.json").read_text())
    (tiny_bert_folder / "config.json").write_text(json.dumps({**config, "model_type": "t5"}))
    with pytest.raises(DataFormatError, match=r"config\.json.*model_type='t5'"):
        load_bert_embedder(tiny_bert_folder)


def test_missing_config_key_names_the_file_and_key(tiny_bert_folder: Path) -> None:
    config = json.loads((tiny_bert_folder / "config.json").read_text())
    del config["num_attention_heads"]
    (tiny_bert_folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(DataFormatError, match=r"config\.json.*'num_attention_heads'"):
        load_bert_embedder(tiny_bert_folder)


def test_missing_tokenizer_names_the_file(tiny_bert_folder: Path) -> None:
    (tiny_bert_folder / "tokenizer.json").unlink()
    with pytest.raises(DataFormatError, match=r"tokenizer\.json"):
        load_bert_embedder(tiny_bert_folder)
