"""Properties every sequential model must have: padding never matters, causal models never look
ahead, and encoding one position per row (for scoring) equals the full pass at that position."""

import numpy as np
import pytest

from dynint.models.mixture_of_experts import MixtureOfExpertsConfig
from tests.models.tiny_models import forward, tiny_model, with_padding_embedding

LENGTHS = np.array([5, 2, 8])
MODELS = [
    ("sasrec", {"norm": "pre"}),
    ("sasrec", {"norm": "post", "position_origin": "first"}),
    ("sasrec", {"moe": MixtureOfExpertsConfig(num_experts=4, top_k=2)}),
    ("gru4rec", {}),
    ("bert4rec", {}),
    ("bert4rec", {"moe": MixtureOfExpertsConfig(num_experts=3)}),
    ("hstu", {}),
    ("hstu", {"position_origin": "first", "attention_size": 6}),
]
CAUSAL = [m for m in MODELS if m[0] != "bert4rec"]


def _label(model):
    return "-".join([model[0], *(v if isinstance(v, str) else k for k, v in model[1].items())])


@pytest.mark.parametrize("model", MODELS, ids=_label)
def test_padding_length_and_padding_embedding_do_not_change_real_positions(sequences, model):
    graphdef, params = tiny_model(model[0], **model[1])
    reference = np.asarray(forward(graphdef, params, sequences[:2, :5]))  # padded to 5 instead of 8
    padded = np.asarray(forward(graphdef, with_padding_embedding(params, 100.0), sequences[:2]))
    for row, length in enumerate(LENGTHS[:2]):
        np.testing.assert_allclose(padded[row, :length], reference[row, :length], atol=1e-5)


@pytest.mark.parametrize("model", CAUSAL, ids=_label)
def test_changing_a_future_item_never_changes_earlier_outputs(sequences, model):
    graphdef, params = tiny_model(model[0], **model[1])
    before = np.asarray(forward(graphdef, params, sequences))
    changed = sequences.copy()
    changed[:, 1] = 17
    after = np.asarray(forward(graphdef, params, changed))
    np.testing.assert_allclose(after[:, :1], before[:, :1], atol=1e-6)
    assert not np.allclose(after[:, 1], before[:, 1])


@pytest.mark.parametrize("model", MODELS, ids=_label)
def test_last_position_encoding_equals_the_full_pass_at_that_position(sequences, model):
    graphdef, params = tiny_model(model[0], **model[1])
    full = np.asarray(forward(graphdef, params, sequences))
    last = np.asarray(forward(graphdef, params, sequences, LENGTHS - 1))
    np.testing.assert_allclose(last, full[np.arange(3), LENGTHS - 1], atol=1e-5)
