import numpy as np
from flax import nnx

from dynint.models.base import ClozeObjective
from tests.models.tiny_models import NUM_ITEMS, forward, tiny_model


def test_every_position_sees_the_whole_sequence_in_both_directions(sequences):
    graphdef, params = tiny_model("bert4rec")
    before = np.asarray(forward(graphdef, params, sequences))
    changed = sequences.copy()
    changed[0, 4] = 17
    after = np.asarray(forward(graphdef, params, changed))
    assert not np.allclose(after[0, 0], before[0, 0])  # an earlier position sees a later change
    np.testing.assert_allclose(after[1:], before[1:], atol=1e-6)


def test_mask_token_follows_the_items_and_is_never_a_candidate():
    graphdef, params = tiny_model("bert4rec", mask_probability=0.3)
    model = nnx.merge(graphdef, params)
    assert model.objective == ClozeObjective(0.3, mask_token=NUM_ITEMS + 1)
    assert params["embed"]["items"]["embedding"].shape[0] == NUM_ITEMS + 2
    assert model.output_table().shape[0] == NUM_ITEMS + 1
