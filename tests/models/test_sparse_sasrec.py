"""Sparse SASRec (dynint/models/sparse_sasrec.py): causal, blind to padding, SASRec itself when
the window covers the sequence, and encoding one position for scoring as the full pass does."""

from __future__ import annotations

import numpy as np

from dynint.models.sparse_attention import AttentionPattern
from tests.models.tiny_models import forward, tiny_model, with_padding_embedding

SPARSE = {"attention": AttentionPattern(window=2, stride=3, num_global=1)}


def test_changing_a_future_item_changes_no_earlier_output_of_sparse_sasrec(sequences):
    graphdef, params = tiny_model("sparse-sasrec", **SPARSE)
    before = np.asarray(forward(graphdef, params, sequences))
    for position in (1, 5):
        changed = sequences.copy()
        changed[2, position] = 17
        after = np.asarray(forward(graphdef, params, changed))
        np.testing.assert_allclose(after[:, :position], before[:, :position], atol=1e-6)
        assert not np.allclose(after[2, position], before[2, position])


def test_padding_length_and_padding_values_change_no_real_output_of_sparse_sasrec(sequences):
    graphdef, params = tiny_model("sparse-sasrec", **SPARSE)
    reference = np.asarray(forward(graphdef, params, sequences[:2, :5]))
    padded = np.asarray(forward(graphdef, with_padding_embedding(params, 100.0), sequences[:2]))
    for row, length in enumerate([5, 2]):
        np.testing.assert_allclose(padded[row, :length], reference[row, :length], atol=1e-5)


def test_sparse_sasrec_with_a_covering_window_equals_sasrec(sequences):
    graphdef, params = tiny_model("sparse-sasrec", attention=AttentionPattern(window=8))
    dense_graphdef, _ = tiny_model("sasrec")
    np.testing.assert_allclose(
        forward(graphdef, params, sequences), forward(dense_graphdef, params, sequences), atol=1e-5
    )


def test_last_position_encoding_of_sparse_sasrec_equals_the_full_pass(sequences):
    graphdef, params = tiny_model("sparse-sasrec", **SPARSE)
    lengths = np.array([5, 2, 8])
    full = np.asarray(forward(graphdef, params, sequences))
    last = np.asarray(forward(graphdef, params, sequences, lengths - 1))
    np.testing.assert_allclose(last, full[np.arange(3), lengths - 1], atol=1e-5)
