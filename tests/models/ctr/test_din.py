"""DIN: attention weights are raw local-activation scores, not a softmax."""

from __future__ import annotations

import numpy as np

from tests.models.ctr.tiny_ctr import GENRES, tiny_batch, tiny_model


def test_attention_weights_are_not_normalised_and_zero_at_padding():
    batch = tiny_batch()
    weights = np.asarray(tiny_model("din").attention_weights(batch))
    real = batch.histories != 0
    assert np.all(weights[~real] == 0)
    assert not np.allclose(weights[real.any(axis=1)].sum(axis=1), 1.0)


def test_a_behaviours_weight_does_not_depend_on_the_other_behaviours():
    model, batch = tiny_model("din"), tiny_batch()
    histories = batch.histories.copy()
    histories[2, 1:5] = [9, 10, 11, 12]  # a softmax would move every other weight of row 2
    changed = batch._replace(histories=histories, history_tokens={"genre": GENRES[histories]})
    before, after = np.asarray(model.attention_weights(batch)), np.asarray(model.attention_weights(changed))
    np.testing.assert_allclose(after[2, [0, 5]], before[2, [0, 5]], atol=1e-6)
    assert not np.allclose(after[2, 1:5], before[2, 1:5])
