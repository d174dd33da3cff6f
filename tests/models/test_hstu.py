"""HSTU: its layer computes the paper's formula (pointwise SiLU attention, no softmax, with a
relative position bias), and bad settings are refused by name."""

import jax
import numpy as np
import pytest
from flax import nnx

from dynint.errors import ConfigError
from dynint.models.hstu import HSTUConfig, HSTULayer
from dynint.models.transformer import attention_mask

MAX_LENGTH = 6


def _silu(x):
    return x / (1.0 + np.exp(-x))


def _layer_norm(x, scale=None, bias=None, epsilon=1e-6):
    mean = x.mean(-1, keepdims=True)
    normed = (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + epsilon)
    return normed * (1.0 if scale is None else scale) + (0.0 if bias is None else bias)


def _reference_layer(layer: HSTULayer, x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The layer written out with numpy, loop by loop, from the formula in dynint/models/hstu.py."""
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
