from __future__ import annotations

import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from dynint.errors import ConfigError, DataFormatError
from dynint.pretrained.pooling import Pooling, pool_hidden_states, read_max_seq_length, read_pooling
from tests.pretrained.tiny_bert import write_pooling_config

HIDDEN = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
VALID = np.array([[True, True, True, False], [False, True, True, False]])


def pooled(pooling: str) -> np.ndarray:
    return np.asarray(pool_hidden_states(jnp.asarray(HIDDEN), jnp.asarray(VALID), Pooling.parse(pooling)))


def test_pooling_names_round_trip_and_unknown_ones_fail() -> None:
    for name in ("mean", "cls", "last", "mean+normalize", "cls+normalize"):
        assert str(Pooling.parse(name)) == name
    with pytest.raises(ConfigError, match=r"pooling='max'"):
        Pooling.parse("max")


def test_mean_pooling_averages_real_tokens_only() -> None:
    expected = np.stack([HIDDEN[0, :3].mean(axis=0), HIDDEN[1, 1:3].mean(axis=0)])
    np.testing.assert_allclose(pooled("mean"), expected)


def test_cls_and_last_pooling_take_the_first_and_last_real_tokens() -> None:
    np.testing.assert_array_equal(pooled("cls"), np.stack([HIDDEN[0, 0], HIDDEN[1, 1]]))
    np.testing.assert_array_equal(pooled("last"), np.stack([HIDDEN[0, 2], HIDDEN[1, 2]]))


def test_normalize_gives_unit_vectors_in_the_same_direction() -> None:
    unit = pooled("mean+normalize")
    raw = pooled("mean")
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(unit * np.linalg.norm(raw, axis=1, keepdims=True), raw, rtol=1e-5)


def test_a_row_without_real_tokens_pools_to_zeros() -> None:
    empty = jnp.zeros((1, 4), dtype=bool)
    for name in ("mean+normalize", "cls", "last+normalize"):
        vector = pool_hidden_states(jnp.asarray(HIDDEN[:1]), empty, Pooling.parse(name))
        np.testing.assert_array_equal(np.asarray(vector), 0.0)


def test_read_pooling_follows_modules_json(tmp_path: Path) -> None:
    write_pooling_config(tmp_path, mode="cls", normalize=False)
    assert read_pooling(tmp_path) == Pooling("cls")
    write_pooling_config(tmp_path, mode="mean", normalize=True)
    assert read_pooling(tmp_path) == Pooling("mean", normalize=True)


def test_folder_without_modules_json_mean_pools() -> None:
    assert read_pooling(Path("/nonexistent-folder")) == Pooling("mean")


def test_unsupported_pooling_mode_names_the_file_and_key(tmp_path: Path) -> None:
    write_pooling_config(tmp_path, mode="mean")
    config_path = tmp_path / "1_Pooling" / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": True}))
    with pytest.raises(DataFormatError, match=r"1_Pooling/config\.json: pooling_mode_max_tokens is not supported"):
        read_pooling(tmp_path)


def test_unsupported_module_names_modules_json(tmp_path: Path) -> None:
    write_pooling_config(tmp_path)
    modules = json.loads((tmp_path / "modules.json").read_text())
    modules.append({"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"})
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(DataFormatError, match=r"modules\.json: module type 'sentence_transformers\.models\.Dense'"):
        read_pooling(tmp_path)


def test_read_max_seq_length(tmp_path: Path) -> None:
    assert read_max_seq_length(tmp_path) is None
    (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 256, "do_lower_case": False}))
    assert read_max_seq_length(tmp_path) == 256
    (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": "long"}))
    with pytest.raises(DataFormatError, match=r"sentence_bert_config\.json: max_seq_length='long'"):
        read_max_seq_length(tmp_path)
