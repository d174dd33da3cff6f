import jax
import numpy as np
import pytest
from flax import nnx

from dynint.errors import ConfigError
from dynint.models.base import TransformerConfig
from dynint.models.transformer import SequenceEmbedding, position_indices


def _embedding(**config):
    return SequenceEmbedding(31, 8, TransformerConfig(hidden_size=16, **config), rngs=nnx.Rngs(params=0))


def test_scaled_item_embeddings_are_sqrt_d_times_the_table_rows_plus_positions():
    inputs = jax.numpy.array([[3, 7, 1, 0, 0], [5, 0, 0, 0, 0]])
    plain, scaled = _embedding(), _embedding(scale_item_embeddings=True)
    positions = scaled.positions(position_indices(inputs, "last"))
    items = scaled.items.embedding[...][inputs]
    np.testing.assert_allclose(scaled(inputs), 4.0 * items + positions, rtol=1e-6)
    np.testing.assert_allclose(plain(inputs), items + positions, rtol=1e-6)  # same keys: same tables


@pytest.mark.parametrize("std", [0.01, 0.1])
def test_embedding_tables_start_with_the_configured_spread(std):
    table = np.asarray(
        SequenceEmbedding(5001, 8, TransformerConfig(embedding_init_std=std), rngs=nnx.Rngs(0)).items.embedding[...]
    )
    assert abs(table.std() / std - 1) < 0.02


def test_a_non_positive_embedding_spread_is_refused():
    with pytest.raises(ConfigError, match="embedding_init_std"):
        TransformerConfig(embedding_init_std=0.0)
