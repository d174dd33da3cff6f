import jax
import numpy as np
import optax
import pytest
from flax import nnx

from dynint.components import get_model_entry
from dynint.data.ragged import Ragged
from dynint.models.sasrec import SASRecConfig
from dynint.temporal.growth import grow_item_rows
from dynint.train.config import TrainConfig
from dynint.train.scoring import SequenceScorer
from dynint.train.state import split_model

OLD, NEW, MAX_LENGTH = 40, 55, 12
CONFIG = SASRecConfig(hidden_size=16, num_layers=1, num_heads=2, inner_size=32)


def build(num_items: int, seed: int):
    model = get_model_entry("sasrec").build(CONFIG, num_items, MAX_LENGTH, rngs=nnx.Rngs(params=seed))
    graphdef, params = split_model(model)
    return graphdef, params, model.objective


def scores(graphdef, params, objective, histories: Ragged, items: np.ndarray) -> np.ndarray:
    train = TrainConfig(max_length=MAX_LENGTH)
    scorer = SequenceScorer(graphdef, params, objective, max_length=MAX_LENGTH, buckets=train.buckets, rows_per_call=8)
    return scorer.score(np.arange(len(histories)), histories, items)


def test_a_model_grown_to_new_items_scores_the_old_items_exactly_as_before():
    graphdef, trained, objective = build(OLD, seed=0)
    grown_graphdef, fresh, _ = build(NEW, seed=1)
    grown = grow_item_rows(trained, fresh)
    shapes = jax.tree.map(np.shape, grown)
    assert shapes == jax.tree.map(np.shape, fresh)
    histories = Ragged.from_lengths(np.array([1, 5, 7, 40, 3, 3, 2, 9, 11]), np.array([4, 1, 4]))
    old_items = np.arange(1, OLD + 1)
    before = scores(graphdef, trained, objective, histories, old_items)
    np.testing.assert_array_equal(scores(grown_graphdef, grown, objective, histories, old_items), before)
    after = scores(grown_graphdef, grown, objective, histories, np.arange(1, NEW + 1))
    np.testing.assert_allclose(after[:, :OLD], before, rtol=1e-5, atol=1e-6)  # a wider product, rounded alike
    # The new items score from their fresh rows, not from copies of old ones.
    assert not np.allclose(after[:, OLD:], 0)
    differing = [
        jax.tree_util.keystr(path)
        for path, leaf in jax.tree_util.tree_leaves_with_path(
            jax.tree.map(lambda a, b: np.shape(a) != np.shape(b), trained, fresh)
        )
        if leaf
    ]
    assert differing, "the item table must change shape with the catalogue"


def test_optimizer_moments_grow_with_zeros_for_the_new_items():
    _, trained, _ = build(OLD, seed=0)
    _, fresh, _ = build(NEW, seed=1)
    optimizer = optax.adam(1e-2)
    state = optimizer.init(trained)
    gradients = jax.tree.map(lambda p: np.ones_like(p), trained)
    _, state = optimizer.update(gradients, state, trained)
    grown_state = grow_item_rows(state, optimizer.init(fresh))
    for old, new in zip(jax.tree.leaves(state), jax.tree.leaves(grown_state), strict=True):
        old, new = np.asarray(old), np.asarray(new)
        if old.shape == new.shape:
            np.testing.assert_array_equal(new, old)
            continue
        axis = next(a for a in range(old.ndim) if old.shape[a] != new.shape[a])
        np.testing.assert_array_equal(np.take(new, np.arange(old.shape[axis]), axis=axis), old)
        assert not np.any(np.take(new, np.arange(old.shape[axis], new.shape[axis]), axis=axis))


def test_growth_refuses_shapes_that_are_not_one_axis_growing():
    with pytest.raises(ValueError, match="cannot grow"):
        grow_item_rows({"table": np.zeros((5, 3))}, {"table": np.zeros((4, 3))})
    with pytest.raises(ValueError, match="cannot grow"):
        grow_item_rows({"table": np.zeros((5, 3))}, {"table": np.zeros((6, 4))})
