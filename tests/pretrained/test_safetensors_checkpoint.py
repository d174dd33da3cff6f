from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from dynint.errors import DataFormatError
from dynint.pretrained.bert import load_bert_embedder
from dynint.pretrained.safetensors_checkpoint import read_model_config, read_safetensors_weights
from tests.pretrained.tiny_bert import tiny_bert_tensors, write_tiny_bert

EXPECTED = {"encoder.weight": (3, 2), "encoder.bias": (3,)}


def write_weights(folder: Path, tensors: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "model.safetensors"))
    return folder


def test_take_returns_float32_tensors_and_the_fingerprint_is_the_files_sha256(tmp_path: Path) -> None:
    weight = np.arange(6, dtype=np.float16).reshape(3, 2)
    folder = write_weights(tmp_path, {"encoder.weight": weight, "encoder.bias": np.ones(3, np.float32)})
    checkpoint = read_safetensors_weights(folder)
    tensors = checkpoint.take(EXPECTED)
    assert tensors["encoder.weight"].dtype == np.float32
    np.testing.assert_array_equal(tensors["encoder.weight"], weight.astype(np.float32))
    assert checkpoint.fingerprint == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


def test_fingerprint_changes_with_the_weights(tmp_path: Path) -> None:
    first = read_safetensors_weights(write_weights(tmp_path / "a", {"w": np.zeros(3, np.float32)}))
    second = read_safetensors_weights(write_weights(tmp_path / "b", {"w": np.ones(3, np.float32)}))
    assert first.fingerprint != second.fingerprint


def test_missing_tensor_names_the_file_and_tensor(tmp_path: Path) -> None:
    folder = write_weights(tmp_path, {"encoder.weight": np.zeros((3, 2), np.float32)})
    with pytest.raises(DataFormatError, match=r"model\.safetensors: missing tensor 'encoder\.bias'"):
        read_safetensors_weights(folder).take(EXPECTED)


def test_unexpected_tensor_names_the_file_and_tensor_unless_ignored(tmp_path: Path) -> None:
    tensors = {"encoder.weight": np.zeros((3, 2), np.float32), "encoder.bias": np.zeros(3, np.float32)}
    folder = write_weights(tmp_path, {**tensors, "head.weight": np.zeros(2, np.float32)})
    checkpoint = read_safetensors_weights(folder)
    with pytest.raises(DataFormatError, match=r"model\.safetensors: unexpected tensor 'head\.weight'"):
        checkpoint.take(EXPECTED)
    assert set(checkpoint.take(EXPECTED, ignore=("head.",))) == set(EXPECTED)


def test_misshaped_tensor_names_the_file_tensor_and_shapes(tmp_path: Path) -> None:
    folder = write_weights(tmp_path, {"encoder.weight": np.zeros((2, 3), np.float32), "encoder.bias": np.zeros(3)})
    with pytest.raises(DataFormatError, match=r"model\.safetensors: tensor 'encoder\.weight' has shape \(2, 3\)"):
        read_safetensors_weights(folder).take(EXPECTED)


def test_rename_maps_stored_names_to_expected_ones(tmp_path: Path) -> None:
    folder = write_weights(tmp_path, {"bert.encoder.weight": np.ones((3, 2), np.float32), "encoder.bias": np.ones(3)})
    tensors = read_safetensors_weights(folder).take(EXPECTED, rename={"bert.encoder.weight": "encoder.weight"})
    assert set(tensors) == set(EXPECTED)


def test_sharded_checkpoint_reads_every_shard(tmp_path: Path) -> None:
    save_file({"encoder.weight": np.ones((3, 2), np.float32)}, str(tmp_path / "model-00001-of-00002.safetensors"))
    save_file({"encoder.bias": np.full(3, 2.0, np.float32)}, str(tmp_path / "model-00002-of-00002.safetensors"))
    weight_map = {
        "encoder.weight": "model-00001-of-00002.safetensors",
        "encoder.bias": "model-00002-of-00002.safetensors",
    }
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    checkpoint = read_safetensors_weights(tmp_path)
    tensors = checkpoint.take(EXPECTED)
    np.testing.assert_array_equal(tensors["encoder.bias"], [2.0, 2.0, 2.0])
    assert len(checkpoint.files) == 2 and len(checkpoint.fingerprint) == 64


def test_folder_without_weights_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"no model\.safetensors"):
        read_safetensors_weights(tmp_path)


def test_corrupt_weight_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(DataFormatError, match=r"model\.safetensors: not a readable safetensors file"):
        read_safetensors_weights(tmp_path)


def test_malformed_config_json_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{\n  "model_type": "bert",\n  oops\n}')
    with pytest.raises(DataFormatError, match=r"config\.json, line 3: not valid JSON"):
        read_model_config(tmp_path)


def test_bert_checkpoint_missing_a_layer_tensor_names_file_and_tensor(tmp_path: Path) -> None:
    tensors = tiny_bert_tensors()
    del tensors["encoder.layer.1.output.dense.bias"]
    folder = write_tiny_bert(tmp_path / "broken", tensors=tensors)
    with pytest.raises(
        DataFormatError, match=r"model\.safetensors: missing tensor 'encoder\.layer\.1\.output\.dense\.bias'"
    ):
        load_bert_embedder(folder)


def test_bert_checkpoint_with_a_misshaped_tensor_names_file_and_tensor(tmp_path: Path) -> None:
    tensors = tiny_bert_tensors()
    tensors["encoder.layer.0.attention.self.key.weight"] = np.zeros((16, 8), np.float32)
    folder = write_tiny_bert(tmp_path / "broken", tensors=tensors)
    with pytest.raises(DataFormatError, match=r"'encoder\.layer\.0\.attention\.self\.key\.weight' has shape \(16, 8\)"):
        load_bert_embedder(folder)
