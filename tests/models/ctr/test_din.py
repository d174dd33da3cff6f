"""DIN: attention weights are raw local-activation scores, not a softmax."""

from __future__ import annotations

import numpy as np

from tests.models.ctr.tiny_ctr import attention_weights, tiny_batch, tiny_model, with_histories


def test_attention_weights_are_not_normalised_and_zero_at_padding():
    batch = tiny_batch()
    weights = np.asarray(attention_weights(tiny_model("din"), batch))
    real = batch.histories != 0
    assert np.all(weights[~real] == 0)
    assert not np.allclose(weights[real.any(axis=1)].sum(axis=1), 1.0)


def test_a_behaviours_weight_does_not_depend_on_the_other_behaviours():
    model, batch = tiny_model("din"), tiny_batch()
    histories = batch.histories.copy()
    histories[2, 1:5] = [9, 10, 11, 12]  # a softmax would move every other weight of row 2
    changed = with_histories(batch, histories)
    before, after = np.asarray(attention_weights(model, batch)), np.asarray(attention_weights(model, changed))
    np.testing.assert_allclose(after[2, [0, 5]], before[2, [0, 5]], atol=1e-6)
    assert not np.allclose(after[2, 1:5], before[2, 1:5])
