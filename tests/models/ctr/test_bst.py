"""BST: the target joins the behaviours, and the heads must divide the item vector."""

from __future__ import annotations

import numpy as np
import pytest

from dynint.errors import ConfigError
from tests.models.ctr.tiny_ctr import forward, tiny_batch, tiny_model, with_histories


def test_heads_that_do_not_divide_the_item_vector_fail_loudly():
    with pytest.raises(ConfigError, match="num_heads"):
        tiny_model("bst", num_heads=3)  # items are 2 fields of 4


def test_the_logit_depends_on_the_order_of_behaviours():
    model, batch = tiny_model("bst"), tiny_batch()
    histories = batch.histories.copy()
    histories[0, :3] = histories[0, 2::-1]
    reordered = with_histories(batch, histories)
    before, after = np.asarray(forward(model, batch)[0]), np.asarray(forward(model, reordered)[0])
    assert after[0] != pytest.approx(before[0], abs=1e-6)
    np.testing.assert_allclose(after[1:], before[1:], atol=1e-6)
