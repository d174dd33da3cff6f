"""HSTU: its layer computes the paper's formula (pointwise SiLU attention, no softmax, with a
relative position bias), and bad settings are refused by name."""

import jax
import numpy as np
import pytest
from flax import nnx

from dynint.errors import ConfigError
from dynint.models.base import TimedItems
from dynint.models.hstu import HSTU, HSTUConfig, HSTULayer, time_gap_buckets
from dynint.models.transformer import attention_mask

MAX_LENGTH = 6


def _silu(x):
    return x / (1.0 + np.exp(-x))


def _layer_norm(x, scale=None, bias=None, epsilon=1e-6):
    mean = x.mean(-1, keepdims=True)
    normed = (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + epsilon)
    return normed * (1.0 if scale is None else scale) + (0.0 if bias is None else bias)


def _reference_layer(layer: HSTULayer, x: np.ndarray, valid: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
    """The layer written out with numpy, loop by loop, from the formula in dynint/models/hstu.py
    (with `times`, the time bias of the gap's bucket, floor(log(1 + gap) / log 1.5), added)."""
    heads, value, attention = layer.num_heads, layer.value_size, layer.attention_size
    normed = _layer_norm(x, np.asarray(layer.input_norm.scale[...]), np.asarray(layer.input_norm.bias[...]))
    projected = _silu(normed @ np.asarray(layer.uvqk.kernel[...]) + np.asarray(layer.uvqk.bias[...]))
    u = projected[..., : heads * value]
    v = projected[..., heads * value : 2 * heads * value]
    q = projected[..., 2 * heads * value : 2 * heads * value + heads * attention]
    k = projected[..., 2 * heads * value + heads * attention :]
    bias = np.asarray(layer.relative_bias[...])
    batch, length, hidden = x.shape
    attended = np.zeros((batch, length, hidden))
    for b in range(batch):
        for h in range(heads):
            qh, kh = q[b, :, h * attention : (h + 1) * attention], k[b, :, h * attention : (h + 1) * attention]
            vh = v[b, :, h * value : (h + 1) * value]
            for i in range(length):
                for j in range(i + 1):
                    if valid[b, j]:
                        logit = qh[i] @ kh[j] / np.sqrt(attention) + bias[i - j]
                        if times is not None:
                            bucket = int(np.floor(np.log1p(max(times[b, i] - times[b, j], 0)) / np.log(1.5)))
                            logit += np.asarray(layer.time_bias[...])[min(bucket, layer.time_buckets - 1)]
                        attended[b, i, h * value : (h + 1) * value] += _silu(logit) / layer.max_length * vh[j]
    gated = _layer_norm(attended) * u
    return x + gated @ np.asarray(layer.output.kernel[...]) + np.asarray(layer.output.bias[...])


def test_an_hstu_layer_computes_pointwise_silu_attention_with_a_relative_position_bias():
    config = HSTUConfig(hidden_size=8, num_heads=2, attention_size=3, dropout=0.0)
    layer = HSTULayer(config, MAX_LENGTH, rngs=nnx.Rngs(params=1))
    layer.relative_bias[...] = jax.random.normal(jax.random.key(2), (MAX_LENGTH,))
    x = np.asarray(jax.random.normal(jax.random.key(3), (2, 5, 8)))
    valid = np.array([[True] * 5, [True, True, True, False, False]])
    out = np.asarray(layer(x, attention_mask(valid, causal=True), None))
    expected = _reference_layer(layer, x, valid)
    np.testing.assert_allclose(out[0], expected[0], atol=1e-5)
    np.testing.assert_allclose(out[1, :3], expected[1, :3], atol=1e-5)


@pytest.mark.parametrize(
    "settings, key",
    [
        ({"hidden_size": 10, "num_heads": 3}, "model.hidden_size=10"),
        ({"attention_size": 0}, "model.attention_size=0"),
        ({"position_origin": "middle"}, "model.position_origin='middle'"),
        ({"num_layers": 0}, "model.num_layers"),
    ],
)
def test_bad_settings_are_refused_by_name(settings, key):
    with pytest.raises(ConfigError, match=key.replace("(", r"\(")):
        HSTUConfig(**settings)


def test_time_gaps_fall_into_buckets_growing_by_half_and_the_last_is_open_ended():
    gaps = np.array([0, 1, 2, 86_400, 31_536_000, -5, 2**31 - 1])
    buckets = np.asarray(time_gap_buckets(gaps, 48))
    assert buckets.tolist() == [0, 1, 2, 28, 42, 0, 47]


def test_the_time_bias_adds_the_learned_value_of_each_gap_s_bucket():
    config = HSTUConfig(hidden_size=8, num_heads=2, attention_size=3, dropout=0.0, time_buckets=20)
    layer = HSTULayer(config, MAX_LENGTH, rngs=nnx.Rngs(params=1))
    layer.relative_bias[...] = jax.random.normal(jax.random.key(2), (MAX_LENGTH,))
    layer.time_bias[...] = jax.random.normal(jax.random.key(4), (20,))
    x = np.asarray(jax.random.normal(jax.random.key(3), (2, 5, 8)))
    valid = np.array([[True] * 5, [True, True, True, False, False]])
    times = np.array([[0, 3, 3, 700, 90_000], [0, 50, 10_000_000, 0, 0]], dtype=np.int32)
    out = np.asarray(layer(x, attention_mask(valid, causal=True), None, None, times))
    expected = _reference_layer(layer, x, valid, times)
    np.testing.assert_allclose(out[0], expected[0], atol=1e-5)
    np.testing.assert_allclose(out[1, :3], expected[1, :3], atol=1e-5)
    last = np.asarray(layer(x, attention_mask(valid, causal=True), None, np.array([4, 2]), times))
    np.testing.assert_allclose(last[:, 0], out[[0, 1], [4, 2]], atol=1e-5)  # scoring's path: chosen queries only


def test_a_timed_hstu_starts_as_the_untimed_one_and_then_reads_only_time_gaps():
    items = np.array([[3, 1, 4, 1, 5], [9, 2, 6, 0, 0]], dtype=np.int32)
    times = np.array([[0, 60, 3_600, 86_400, 90_000], [0, 5, 7, 0, 0]], dtype=np.int32)
    plain = HSTU(HSTUConfig(hidden_size=8, dropout=0.0), 10, MAX_LENGTH, rngs=nnx.Rngs(params=0))
    timed = HSTU(HSTUConfig(hidden_size=8, dropout=0.0, time_buckets=48), 10, MAX_LENGTH, rngs=nnx.Rngs(params=0))
    # A zero time bias (its initial value) changes nothing.
    np.testing.assert_allclose(timed(TimedItems(items, times)), plain(items), atol=1e-6)
    for layer in timed.layers:
        layer.time_bias[...] = jax.random.normal(jax.random.key(5), (48,))
    before = np.asarray(timed(TimedItems(items, times)))
    assert not np.allclose(before, plain(items), atol=1e-4)
    # Gaps, not absolute times: shifting a row's clock changes nothing; stretching its gaps does.
    np.testing.assert_allclose(timed(TimedItems(items, times + 1000 * (items > 0))), before, atol=1e-6)
    assert not np.allclose(timed(TimedItems(items, times * 100)), before, atol=1e-4)
    with pytest.raises(ValueError, match="reads event times"):
        timed(items)
