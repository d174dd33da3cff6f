import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynint.models.dropout import Dropout, DropoutKeys


@jax.jit
def _apply(x, key):
    return Dropout(0.2)(x, DropoutKeys(key))


def test_dropout_is_the_identity_without_keys():
    x = jnp.arange(10.0)
    np.testing.assert_array_equal(np.asarray(Dropout(0.5)(x, None)), np.asarray(x))


def test_dropout_keeps_the_rounded_rate_and_preserves_the_mean():
    x = jnp.ones((200, 101))  # not a multiple of 4 units per random word
    out = np.asarray(_apply(x, jax.random.key(0)))
    kept = out != 0
    np.testing.assert_allclose(kept.mean(), 205 / 256, atol=0.01)
    np.testing.assert_allclose(out[kept], 256 / 205, rtol=1e-6)
    np.testing.assert_allclose(out.mean(), 1.0, atol=0.02)


def test_dropout_masks_depend_on_the_key_only():
    x = jnp.ones((64,))
    first = np.asarray(_apply(x, jax.random.key(1)))
    np.testing.assert_array_equal(first, np.asarray(_apply(x, jax.random.key(1))))
    assert not np.array_equal(first, np.asarray(_apply(x, jax.random.key(2))))


def test_each_dropout_site_gets_its_own_key():
    keys = DropoutKeys(jax.random.key(0), count=2)
    first, second = keys.next(), keys.next()
    assert not np.array_equal(jax.random.key_data(first), jax.random.key_data(second))
    with pytest.raises(RuntimeError, match="more than 2"):
        keys.next()
