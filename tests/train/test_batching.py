import numpy as np
import pytest

from dynint.data.ragged import Ragged
from dynint.models.base import ClozeObjective, NextItemObjective
from dynint.train.batching import SequenceBatcher, make_examples, training_windows

NEXT = NextItemObjective()
CLOZE = ClozeObjective(mask_probability=0.3, mask_token=99)


def _sequences(seed=0, count=200, items=50):
    rng = np.random.default_rng(seed)
    return Ragged.from_rows([rng.integers(1, items + 1, size=n) for n in rng.integers(1, 30, size=count)])


def _batcher(sequences, objective=NEXT, **overrides):
    settings = dict(max_length=20, buckets=(4, 8, 20), batch_size=16, max_tokens=128)
    return SequenceBatcher(sequences, objective, **{**settings, **overrides})


def _predicted_pairs(batches):
    """(input row contents up to the position, target) of every predicted position, as a multiset."""
    pairs = []
    for batch in batches:
        length = batch.inputs.shape[1]
        real = batch.token_weight > 0
        for index, target in zip(batch.token_index[real], batch.token_target[real], strict=True):
            row, column = divmod(int(index), length)
            pairs.append((tuple(batch.inputs[row, : column + 1]), int(target)))
    return sorted(pairs)


def test_next_item_examples_predict_every_following_item_of_the_last_window():
    windows = training_windows(Ragged.from_rows([[1, 2, 3, 4, 5], [6], [7, 8]]), NEXT, max_length=3)
    assert [list(w) for w in windows] == [[2, 3, 4, 5], [7, 8]]  # one-item sequences have nothing to predict
    examples = make_examples(windows, NEXT)
    assert [list(r) for r in examples.inputs] == [[2, 3, 4], [7]]
    assert list(examples.targets) == [3, 4, 5, 8] and examples.predict.all()


def test_an_epoch_predicts_every_real_position_exactly_once():
    sequences = _sequences()
    batcher = _batcher(sequences)
    expected = []
    for window in training_windows(sequences, NEXT, max_length=20):
        expected += [(tuple(window[: t + 1]), int(window[t + 1])) for t in range(len(window) - 1)]
    assert _predicted_pairs(batcher.epoch(seed=0, epoch=1)) == sorted(expected)


def test_batches_have_static_bucket_shapes_and_never_overflow_their_token_buffer():
    batcher = _batcher(_sequences())
    for batch in batcher.epoch(seed=0, epoch=1):
        length = batch.inputs.shape[1]
        bucket = batcher.buckets.index(length)
        assert batch.inputs.shape == (batcher.rows[bucket], length) and batcher.rows[bucket] <= 16
        assert batch.token_index.shape == (batcher.token_budgets[bucket],)
        lengths = (batch.inputs > 0).sum(axis=1)
        assert lengths.max() <= length and (bucket == 0 or lengths[lengths > 0].min() > batcher.buckets[bucket - 1])
        assert batch.token_weight.sum() == lengths.sum()  # next-item: one prediction per input position


def test_padding_positions_are_never_predicted():
    for batch in _batcher(_sequences()).epoch(seed=0, epoch=2):
        real = batch.token_weight > 0
        assert np.all(batch.inputs.reshape(-1)[batch.token_index[real]] > 0)
        assert np.all(batch.token_target[real] > 0)


def test_epoch_order_is_a_function_of_seed_and_epoch():
    batcher = _batcher(_sequences())

    def flat(batches):
        return np.concatenate([b.inputs.ravel() for b in batches])

    np.testing.assert_array_equal(flat(batcher.epoch(3, 5)), flat(_batcher(_sequences()).epoch(3, 5)))
    assert not np.array_equal(flat(batcher.epoch(3, 5)), flat(batcher.epoch(3, 6)))
    assert not np.array_equal(flat(batcher.epoch(3, 5)), flat(batcher.epoch(4, 5)))


def test_cloze_examples_mask_at_least_one_item_per_sequence_and_predict_only_masked_items():
    windows = training_windows(_sequences(), CLOZE, max_length=20)
    examples = make_examples(windows, CLOZE, np.random.default_rng(0))
    masked = examples.inputs.values == CLOZE.mask_token
    np.testing.assert_array_equal(masked, examples.predict)
    np.testing.assert_array_equal(examples.targets, windows.values)
    assert examples.predictions_per_row().min() >= 1
    assert abs(masked.mean() - CLOZE.mask_probability) < 0.05


def test_cloze_batches_gather_the_masked_positions():
    batcher = _batcher(_sequences(), CLOZE)
    for batch in batcher.epoch(seed=0, epoch=1):
        real = batch.token_weight > 0
        assert np.all(batch.inputs.reshape(-1)[batch.token_index[real]] == CLOZE.mask_token)
        assert batch.token_weight.sum() == (batch.inputs == CLOZE.mask_token).sum()


def test_long_sequences_keep_their_most_recent_items():
    windows = training_windows(Ragged.from_rows([np.arange(1, 31)]), NEXT, max_length=20)
    np.testing.assert_array_equal(windows[0], np.arange(10, 31))


def test_the_last_bucket_must_be_max_length():
    with pytest.raises(ValueError, match="last bucket"):
        _batcher(_sequences(), buckets=(4, 8))


def test_loss_from_predicts_only_the_targets_at_or_after_each_sequences_position():
    sequences = _sequences(seed=3, count=120)
    loss_from = np.random.default_rng(4).integers(0, 35, size=len(sequences))
    batcher = _batcher(sequences, loss_from=loss_from)
    expected = []
    for row, length, start in zip(sequences, sequences.lengths, loss_from, strict=True):
        window_start = max(0, length - 21)  # the last max_length + 1 items
        for position in range(max(int(start), window_start + 1, 1), length):
            expected.append((tuple(row[window_start:position]), int(row[position])))
    assert expected, "some sequences must have targets after their loss_from"
    assert len(expected) < sum(max(0, min(n, 21) - 1) for n in sequences.lengths)
    assert _predicted_pairs(batcher.epoch(seed=0, epoch=1)) == sorted(expected)


def test_loss_from_is_refused_for_cloze_objectives_and_wrong_lengths():
    sequences = _sequences(count=10)
    with pytest.raises(ValueError, match="next-item objectives only"):
        _batcher(sequences, CLOZE, loss_from=np.zeros(10, dtype=int))
    with pytest.raises(ValueError, match="one position per sequence"):
        _batcher(sequences, loss_from=np.zeros(9, dtype=int))


def test_given_shapes_are_kept_and_every_position_is_still_predicted_once():
    first = _batcher(_sequences(seed=0))
    rng = np.random.default_rng(5)
    later_sequences = Ragged.from_rows([rng.integers(1, 51, size=n) for n in rng.integers(2, 6, size=120)])
    later = _batcher(later_sequences, shapes=first.shapes, catalogue_size=37)
    assert later.shapes == first.shapes != _batcher(later_sequences).shapes
    expected = []
    for window in training_windows(later_sequences, NEXT, max_length=20):
        expected += [(tuple(window[: t + 1]), int(window[t + 1])) for t in range(len(window) - 1)]
    batches = later.epoch(seed=0, epoch=1)
    assert _predicted_pairs(batches) == sorted(expected)
    for batch in batches:
        bucket = later.buckets.index(batch.inputs.shape[1])
        assert batch.token_index.shape == (first.token_budgets[bucket],)
        assert batch.inputs.shape[0] == first.rows[bucket]
        np.testing.assert_array_equal(batch.catalogue_size, np.full(batch.inputs.shape[0], 37))
    assert all(batch.catalogue_size is None for batch in first.epoch(seed=0, epoch=1))


def test_shapes_that_cannot_hold_a_bucket_are_refused():
    shapes = _batcher(_sequences()).shapes
    with pytest.raises(ValueError, match="bucket 20 needs a token budget of at least 20"):
        _batcher(_sequences(), shapes=type(shapes)(shapes.token_budgets[:2] + (0,), shapes.rows))
