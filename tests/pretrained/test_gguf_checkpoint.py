import json

import ml_dtypes
import numpy as np
import pytest

from dynint.errors import DataFormatError
from dynint.pretrained.gguf_checkpoint import read_gguf_llama, unpermute_rotary_rows
from dynint.pretrained.llama import load_llama_embedder
from dynint.pretrained.safetensors_checkpoint import sha256_of_file
from tests.pretrained.llama_fixtures import (
    TINY_CONFIG,
    llama_cpp_permute,
    tiny_llama_checkpoints,
    tiny_llama_weights,
    tiny_tokenizer,
    write_safetensors_folder,
    write_tiny_gguf,
)

TEXTS = ["the cat in 1995 <|im_end|> at", "héllo 世界 — 42%", "", "a"]


@pytest.mark.parametrize("tied", [True, False])
def test_gguf_and_safetensors_of_the_same_weights_give_identical_outputs(tmp_path, tied):
    gguf_path, folder = tiny_llama_checkpoints(tmp_path, tied=tied)
    from_gguf, from_folder = load_llama_embedder(gguf_path), load_llama_embedder(folder)
    assert from_gguf.config == from_folder.config and from_gguf.config.tie_word_embeddings == tied
    token_ids = np.array([[5, 6, 7, 8, 9, 0], [10, 11, 260, 263, 12, 13]], np.int32)
    valid = np.array([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]], bool)
    gguf_hidden, gguf_logits = from_gguf.forward(token_ids, valid)
    folder_hidden, folder_logits = from_folder.forward(token_ids, valid)
    np.testing.assert_array_equal(np.asarray(gguf_hidden), np.asarray(folder_hidden))
    np.testing.assert_array_equal(np.asarray(gguf_logits), np.asarray(folder_logits))
    assert from_gguf.fingerprint == sha256_of_file(gguf_path)
    assert from_folder.fingerprint == sha256_of_file(folder / "model.safetensors")


@pytest.mark.parametrize("add_bos", [False, True])
def test_the_tokenizer_built_from_gguf_metadata_equals_the_original_tokenizer_json(tmp_path, add_bos):
    gguf_path, folder = tiny_llama_checkpoints(tmp_path, add_bos=add_bos)
    from_gguf = read_gguf_llama(gguf_path).tokenizer
    original = tiny_tokenizer(add_bos)
    for special in (False, True):
        assert [e.ids for e in from_gguf.encode_batch(TEXTS, add_special_tokens=special)] == [
            e.ids for e in original.encode_batch(TEXTS, add_special_tokens=special)
        ]
    ids = load_llama_embedder(gguf_path).tokenize(TEXTS)
    assert ids == load_llama_embedder(folder).tokenize(TEXTS)
    assert all((row[:1] == [1]) == add_bos for row in ids)  # BOS is <|im_start|> (id 1) in the tiny vocabulary
    # Digits are split one by one, the control token is one id, and decoding restores the text.
    first = from_gguf.encode(TEXTS[0], add_special_tokens=False)
    assert first.tokens[8:16] == ["Ġ", "1", "9", "9", "5", "Ġ", "<|im_end|>", "Ġa"]
    assert first.ids[14] == 2
    assert from_gguf.decode(from_gguf.encode(TEXTS[1]).ids) == TEXTS[1]


def test_unpermute_rotary_rows_inverts_llama_cpp_conversion():
    weight = np.arange(8 * 16 * 3, dtype=np.float32).reshape(8 * 16, 3)
    for heads in (8, 2):
        np.testing.assert_array_equal(unpermute_rotary_rows(llama_cpp_permute(weight, heads), heads), weight)
    # One head of size 4: GGUF rows (0, 1, 2, 3) hold Hugging Face rows (0, 2, 1, 3).
    np.testing.assert_array_equal(unpermute_rotary_rows(np.arange(4.0)[:, None], 1)[:, 0], [0, 2, 1, 3])


def test_a_missing_gguf_tensor_is_named_with_the_file(tmp_path):
    path = tmp_path / "broken.gguf"
    write_tiny_gguf(path, TINY_CONFIG, tiny_llama_weights(TINY_CONFIG), skip_tensors=("blk.1.ffn_up.weight",))
    with pytest.raises(DataFormatError, match=r"broken\.gguf: missing tensor 'blk\.1\.ffn_up\.weight'"):
        read_gguf_llama(path)


def test_an_unexpected_gguf_tensor_is_named_with_the_file(tmp_path):
    path = tmp_path / "extra.gguf"
    extra = {"blk.0.attn_q.bias": np.zeros(64, np.float32)}
    write_tiny_gguf(path, TINY_CONFIG, tiny_llama_weights(TINY_CONFIG), extra_tensors=extra)
    with pytest.raises(DataFormatError, match=r"extra\.gguf: unexpected tensor 'blk\.0\.attn_q\.bias'"):
        read_gguf_llama(path)


def test_a_missing_metadata_key_or_another_architecture_is_named(tmp_path):
    weights = tiny_llama_weights(TINY_CONFIG)
    write_tiny_gguf(tmp_path / "keyless.gguf", TINY_CONFIG, weights, skip_keys=("llama.block_count",))
    with pytest.raises(DataFormatError, match=r"keyless\.gguf: missing metadata key 'llama\.block_count'"):
        read_gguf_llama(tmp_path / "keyless.gguf")
    write_tiny_gguf(tmp_path / "gpt.gguf", TINY_CONFIG, weights, architecture="gpt2")
    with pytest.raises(DataFormatError, match=r"gpt\.gguf: general\.architecture='gpt2': expected 'llama'"):
        read_gguf_llama(tmp_path / "gpt.gguf")


def test_a_file_that_is_not_gguf_fails_naming_it(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"not a gguf file at all")
    with pytest.raises(DataFormatError, match=r"model\.gguf: not a readable GGUF file"):
        load_llama_embedder(path)
    with pytest.raises(DataFormatError, match=r"nowhere: expected a \.gguf file or a folder"):
        load_llama_embedder(tmp_path / "nowhere")


def test_safetensors_folder_errors_name_the_file_and_tensor(tmp_path):
    weights = tiny_llama_weights(TINY_CONFIG)
    missing = {name: w for name, w in weights.items() if name != "model.layers.1.mlp.up_proj.weight"}
    write_safetensors_folder(tmp_path / "missing", TINY_CONFIG, missing)
    with pytest.raises(DataFormatError, match=r"model\.safetensors: missing tensor 'model\.layers\.1\.mlp\.up_proj"):
        load_llama_embedder(tmp_path / "missing")
    reshaped = {**weights, "model.norm.weight": np.ones(32, np.float32)}
    write_safetensors_folder(tmp_path / "reshaped", TINY_CONFIG, reshaped)
    with pytest.raises(DataFormatError, match=r"model\.safetensors: tensor 'model\.norm\.weight' has shape \(32,\)"):
        load_llama_embedder(tmp_path / "reshaped")
    folder = write_safetensors_folder(
        tmp_path / "scaled", {**TINY_CONFIG, "rope_scaling": {"rope_type": "llama3"}}, weights
    )
    with pytest.raises(DataFormatError, match=r"config\.json: rope scaling .* is not supported"):
        load_llama_embedder(folder)
    config = {key: value for key, value in TINY_CONFIG.items() if key != "intermediate_size"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(DataFormatError, match=r"config\.json: missing key 'intermediate_size'"):
        load_llama_embedder(folder)
    (folder / "tokenizer.json").unlink()
    (folder / "config.json").write_text(json.dumps(TINY_CONFIG))
    with pytest.raises(DataFormatError, match=r"tokenizer\.json: file not found"):
        load_llama_embedder(folder)


def test_a_bfloat16_safetensors_folder_loads_as_its_float32_values(tmp_path):
    weights = tiny_llama_weights(TINY_CONFIG)
    rounded = {name: weight.astype(ml_dtypes.bfloat16) for name, weight in weights.items()}
    write_safetensors_folder(tmp_path / "bf16", TINY_CONFIG, rounded)
    write_safetensors_folder(tmp_path / "f32", TINY_CONFIG, {n: w.astype(np.float32) for n, w in rounded.items()})
    token_ids = np.array([[5, 6, 7, 8]], np.int32)
    valid = np.ones_like(token_ids, bool)
    bf16_hidden, _ = load_llama_embedder(tmp_path / "bf16").forward(token_ids, valid)
    f32_hidden, _ = load_llama_embedder(tmp_path / "f32").forward(token_ids, valid)
    np.testing.assert_array_equal(np.asarray(bf16_hidden), np.asarray(f32_hidden))
