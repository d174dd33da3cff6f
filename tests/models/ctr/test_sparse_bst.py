"""Sparse BST: the causal sparse encoder plus target attention. (The properties every CTR model
has, padding, gradients and dropout, are in test_models.py, which covers it too.)"""

from __future__ import annotations

import numpy as np
import pytest

from dynint.errors import ConfigError
from dynint.models.sparse_attention import AttentionPattern
from tests.models.ctr.tiny_ctr import forward, tiny_batch, tiny_model, with_histories


def test_heads_that_do_not_divide_the_item_vector_fail_loudly():
    with pytest.raises(ConfigError, match="num_heads"):
        tiny_model("sparse-bst", num_heads=3)  # items are 2 fields of 4


@pytest.mark.parametrize("window", [1, 6])
def test_the_logit_depends_on_the_order_of_behaviours_and_only_that_rows(window):
    model, batch = tiny_model("sparse-bst", attention=AttentionPattern(window=window)), tiny_batch()
    histories = batch.histories.copy()
    histories[0, :3] = histories[0, 2::-1]
    before, after = (
        np.asarray(forward(model, batch)[0]),
        np.asarray(forward(model, with_histories(batch, histories))[0]),
    )
    assert after[0] != pytest.approx(before[0], abs=1e-6)
    np.testing.assert_allclose(after[1:], before[1:], atol=1e-6)
