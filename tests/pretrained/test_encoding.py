from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from dynint.errors import ConfigError
from dynint.pretrained import encode_texts, load_text_embedder
from dynint.pretrained.bert import BertEmbedder, load_bert_embedder
from dynint.pretrained.encoding import CACHE_DIR_ENV, bucket_length, default_cache_dir
from tests.pretrained.tiny_bert import write_tiny_bert

TEXTS = [
    "Toy Story (1995) | comedy",
    "the war movie",
    "a",
    "space love drama comedy action the toy story",
    "",
    "b c",
    "the movies , the movies , the movies , the movies",
]


class TextLog:
    """The texts an embedder was asked to tokenize (compared by identity, so an NNX module can hold it)."""

    def __init__(self) -> None:
        self.texts: list[str] = []


class LoggingBertEmbedder(BertEmbedder):
    """A real BERT embedder that records what it tokenizes: `encode_texts` tokenizes exactly the
    texts it has to embed, so the log shows which vectors came from the cache."""

    def __init__(self, base: BertEmbedder):
        super().__init__(
            base.model,
            base.tokenizer,
            name=base.name,
            fingerprint=base.fingerprint,
            pooling=base.pooling_spec,
            dtype=base.dtype,
        )
        self.companion_digest = base.companion_digest
        self.log = TextLog()

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        self.log.texts.extend(texts)
        return super().tokenize(texts)


def logging_embedder(folder: Path, **options: str) -> LoggingBertEmbedder:
    return LoggingBertEmbedder(load_bert_embedder(folder, **options))


def test_second_call_reads_every_vector_from_the_cache(tiny_bert_folder: Path, tmp_path: Path) -> None:
    embedder = logging_embedder(tiny_bert_folder)
    first = encode_texts(embedder, TEXTS, cache_dir=tmp_path / "cache", progress=False)
    assert sorted(embedder.log.texts) == sorted(TEXTS)
    fresh = logging_embedder(tiny_bert_folder)
    second = encode_texts(fresh, TEXTS, cache_dir=tmp_path / "cache", progress=False)
    assert fresh.log.texts == []
    np.testing.assert_array_equal(second, first)
    assert first.shape == (len(TEXTS), embedder.dimension) and first.dtype == np.float32


def test_only_texts_not_in_the_cache_are_encoded(tiny_bert_folder: Path, tmp_path: Path) -> None:
    embedder = logging_embedder(tiny_bert_folder)
    encode_texts(embedder, TEXTS[:3], cache_dir=tmp_path, progress=False)
    embedder.log.texts.clear()
    vectors = encode_texts(embedder, TEXTS[1:5], cache_dir=tmp_path, progress=False)
    assert sorted(embedder.log.texts) == sorted(TEXTS[3:5])
    np.testing.assert_allclose(vectors, encode_texts(embedder, TEXTS[1:5], cache_dir=tmp_path / "new"), atol=1e-6)


def test_cache_is_invalidated_when_the_weights_change(tmp_path: Path) -> None:
    first = logging_embedder(write_tiny_bert(tmp_path / "seed0", seed=0))
    second = logging_embedder(write_tiny_bert(tmp_path / "seed1", seed=1))
    assert first.fingerprint != second.fingerprint
    old = encode_texts(first, TEXTS, cache_dir=tmp_path / "cache", progress=False)
    new = encode_texts(second, TEXTS, cache_dir=tmp_path / "cache", progress=False)
    assert sorted(second.log.texts) == sorted(TEXTS)
    assert not np.allclose(old, new, atol=1e-3)


def test_cache_is_invalidated_when_the_config_or_tokenizer_beside_the_weights_changes(
    tiny_bert_folder: Path, tmp_path: Path
) -> None:
    encode_texts(logging_embedder(tiny_bert_folder), TEXTS, cache_dir=tmp_path / "cache", progress=False)
    config = json.loads((tiny_bert_folder / "config.json").read_text())
    (tiny_bert_folder / "config.json").write_text(json.dumps({**config, "layer_norm_eps": 1e-3}))
    changed = logging_embedder(tiny_bert_folder)
    encode_texts(changed, TEXTS, cache_dir=tmp_path / "cache", progress=False)
    assert sorted(changed.log.texts) == sorted(TEXTS)


def test_cache_is_invalidated_when_pooling_or_dtype_changes(tiny_bert_folder: Path, tmp_path: Path) -> None:
    mean = encode_texts(logging_embedder(tiny_bert_folder), TEXTS, cache_dir=tmp_path, progress=False)
    cls = logging_embedder(tiny_bert_folder, pooling="cls+normalize")
    cls_vectors = encode_texts(cls, TEXTS, cache_dir=tmp_path, progress=False)
    assert sorted(cls.log.texts) == sorted(TEXTS)
    assert not np.allclose(mean, cls_vectors, atol=1e-3)
    half = logging_embedder(tiny_bert_folder, dtype="bfloat16")
    encode_texts(half, TEXTS, cache_dir=tmp_path, progress=False)
    assert sorted(half.log.texts) == sorted(TEXTS)


def test_batch_size_and_composition_do_not_change_embeddings(tiny_bert_folder: Path, tmp_path: Path) -> None:
    embedder = load_bert_embedder(tiny_bert_folder)
    results = [
        encode_texts(embedder, TEXTS, batch_size=size, cache_dir=tmp_path / str(size), progress=False)
        for size in (1, 64)
    ]
    reordered = encode_texts(embedder, TEXTS[::-1] + ["love"], batch_size=3, cache_dir=tmp_path / "r", progress=False)
    for vectors in results[1:] + [reordered[:-1][::-1]]:
        np.testing.assert_allclose(vectors, results[0], atol=1e-5)


def test_rows_follow_the_input_order_and_equal_texts_are_encoded_once(tiny_bert_folder: Path, tmp_path: Path) -> None:
    embedder = logging_embedder(tiny_bert_folder)
    texts = [TEXTS[1], TEXTS[0], TEXTS[1], TEXTS[3]]
    vectors = encode_texts(embedder, texts, cache_dir=tmp_path, progress=False)
    assert sorted(embedder.log.texts) == sorted({TEXTS[0], TEXTS[1], TEXTS[3]})
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert not np.allclose(vectors[0], vectors[1], atol=1e-3)


def test_no_texts_give_an_empty_array(tiny_bert_folder: Path, tmp_path: Path) -> None:
    embedder = load_bert_embedder(tiny_bert_folder)
    assert encode_texts(embedder, [], cache_dir=tmp_path, progress=False).shape == (0, embedder.dimension)


def test_cache_folder_comes_from_the_argument_else_the_environment(
    tiny_bert_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "from-env"))
    assert default_cache_dir() == tmp_path / "from-env"
    embedder = load_bert_embedder(tiny_bert_folder)
    encode_texts(embedder, TEXTS[:2], progress=False)
    encode_texts(embedder, TEXTS[:2], cache_dir=tmp_path / "from-argument", progress=False)
    for root in ("from-env", "from-argument"):
        shards = list((tmp_path / root / embedder.fingerprint).rglob("shard-*.npz"))
        assert len(shards) == 1
    # Writes are atomic: no temporary file is left beside a shard.
    assert not [path for path in tmp_path.rglob("*") if path.name.endswith(".tmp")]
    monkeypatch.delenv(CACHE_DIR_ENV)
    assert default_cache_dir() == Path.home() / ".cache" / "dynint" / "embeddings"


def test_bucket_lengths_are_powers_of_two_capped_at_max_length() -> None:
    assert [bucket_length(n, 256) for n in (0, 3, 8, 9, 17, 200, 256)] == [8, 8, 8, 16, 32, 256, 256]
    assert bucket_length(12, 12) == 12
    with pytest.raises(ValueError, match="more than the embedder's max_length 12"):
        bucket_length(13, 12)


def test_load_text_embedder_dispatches_on_the_folders_model_type(tiny_bert_folder: Path) -> None:
    embedder = load_text_embedder(str(tiny_bert_folder), pooling="cls")
    assert isinstance(embedder, BertEmbedder) and embedder.pooling == "cls"
    config = json.loads((tiny_bert_folder / "config.json").read_text())
    (tiny_bert_folder / "config.json").write_text(json.dumps({**config, "model_type": "t5"}))
    with pytest.raises(ConfigError, match=r"config\.json: model_type='t5' is not supported"):
        load_text_embedder(str(tiny_bert_folder))
    with pytest.raises(ConfigError, match="not a checkpoint folder, a .gguf file or one of all-MiniLM-L6-v2"):
        load_text_embedder(str(tiny_bert_folder / "absent"))


def test_default_text_model_matches_the_reference_through_the_pipeline(
    minilm_folder: Path, minilm_reference: dict, tmp_path: Path
) -> None:
    embedder = load_text_embedder()
    assert embedder.name == "all-MiniLM-L6-v2" and embedder.fingerprint == load_bert_embedder(minilm_folder).fingerprint
    items = minilm_reference["items"]
    vectors = encode_texts(embedder, [item["text"] for item in items], batch_size=4, cache_dir=tmp_path)
    reference = np.asarray([item["embedding"] for item in items], dtype=np.float32)
    assert np.abs(vectors - reference).max() <= 1e-4
    np.testing.assert_array_equal(encode_texts(embedder, [items[0]["text"]], cache_dir=tmp_path), vectors[:1])
